//! Posted forms (`application/x-www-form-urlencoded`), decoded strictly.

use crate::html::parse_query;

/// The fields of a posted form, in order.
#[derive(Debug, Clone, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Decodes a body; `None` when it is not UTF-8 or not well encoded.
    pub fn parse(body: &[u8]) -> Option<Form> {
        let text = std::str::from_utf8(body).ok()?;
        parse_query(text).map(Form)
    }

    /// A field's value, trimmed (the first of that name; empty when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    /// Whether a checkbox was ticked (present and not empty).
    pub fn checked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    /// A multi-line field split into its non-empty lines.
    pub fn lines(&self, name: &str) -> Vec<String> {
        self.get(name)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }

    /// A field split on commas, semicolons and white space, without empty items.
    pub fn items(&self, name: &str) -> Vec<String> {
        self.get(name)
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_lines_and_items() {
        let f = Form::parse(b"a=+x+&v=one%0D%0A%0D%0Atwo&p=2019-2023%2C+2024&c=on").unwrap();
        assert_eq!(f.get("a"), "x");
        assert_eq!(f.get("missing"), "");
        assert_eq!(f.lines("v"), ["one", "two"]);
        assert_eq!(f.items("p"), ["2019-2023", "2024"]);
        assert!(f.checked("c") && !f.checked("d"));
        assert!(Form::parse(b"a=%ZZ").is_none());
    }
}
