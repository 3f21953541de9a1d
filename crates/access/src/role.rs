//! The roles, one per mission of the agency (seed 000): who an account acts as.

use std::fmt;
use std::str::FromStr;

/// A role an account holds. The public has no account and so no role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// A member of an approved project, inside the project's secure environment.
    Researcher,
    /// A partner with permanent access to the permanent sample (the insurance institute, the
    /// knowledge centre, the social-security and health ministries, Sciensano, the planning
    /// bureau).
    SamplePartner,
    /// One of the agency's analysts.
    AgencyAnalyst,
    /// The agency's data managers: deliveries, the warehouse, the full population.
    DataManager,
    /// The insurance institute's control services (SECM, SCA, SSS).
    ControlServices,
    /// Manages accounts; by design reads no data.
    Administrator,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 6] = [
        Role::Researcher,
        Role::SamplePartner,
        Role::AgencyAnalyst,
        Role::DataManager,
        Role::ControlServices,
        Role::Administrator,
    ];

    /// The name used on the command line and in the store (`data-manager`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Researcher => "researcher",
            Role::SamplePartner => "sample-partner",
            Role::AgencyAnalyst => "agency-analyst",
            Role::DataManager => "data-manager",
            Role::ControlServices => "control-services",
            Role::Administrator => "administrator",
        }
    }

    /// The name a person reads (`data manager`).
    pub fn label(self) -> &'static str {
        match self {
            Role::Researcher => "researcher",
            Role::SamplePartner => "sample partner",
            Role::AgencyAnalyst => "agency analyst",
            Role::DataManager => "data manager",
            Role::ControlServices => "control services (SECM/SCA/SSS)",
            Role::Administrator => "administrator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, thiserror::Error)]
#[error(
    "'{0}' is not a role: use researcher, sample-partner, agency-analyst, data-manager, control-services or administrator"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        let s = s.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(UnknownRole(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert_eq!("Data_Manager".parse::<Role>().unwrap(), Role::DataManager);
        assert!("root".parse::<Role>().is_err());
    }
}
