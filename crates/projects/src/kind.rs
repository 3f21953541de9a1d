//! The request types of seed 003 and the flags of a project sheet that change their path.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A type of request (seed 003 §2.2–§2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestType {
    /// An anonymous result file (aggregate) computed on the permanent sample (§2.2.1).
    SampleAggregate,
    /// An anonymous result file computed on the whole population (§2.2.2).
    PopulationAggregate,
    /// Coded individual data for the requester's researchers (§2.3, raw or processed).
    CodedData,
    /// A study carried out by the agency for or with the requester (§2.4).
    AgencyStudy,
}

impl RequestType {
    /// Every type, in the seed's order.
    pub const ALL: [RequestType; 4] = [
        RequestType::SampleAggregate,
        RequestType::PopulationAggregate,
        RequestType::CodedData,
        RequestType::AgencyStudy,
    ];

    /// The identifier used in data files, sheets and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            RequestType::SampleAggregate => "sample-aggregate",
            RequestType::PopulationAggregate => "population-aggregate",
            RequestType::CodedData => "coded-data",
            RequestType::AgencyStudy => "agency-study",
        }
    }
}

impl fmt::Display for RequestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for RequestType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        RequestType::ALL
            .into_iter()
            .find(|t| t.id() == s)
            .ok_or_else(|| {
                let ids: Vec<_> = RequestType::ALL.iter().map(|t| t.id()).collect();
                format!("unknown request type `{s}`; one of: {}", ids.join(", "))
            })
    }
}

/// A yes/no fact of the project sheet that adds or removes steps or documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// The data are linked with an external source through the TTP (authorisation for a
    /// study, eHealth TTP dossier, small cell risk analysis).
    Linkage,
    /// The programme managers judge the request complex: it goes to the steering committee.
    Complex,
    /// The requester is a partner with access to the permanent sample (it writes the program
    /// on the sample and sends it with the selection document).
    EpsPartner,
}

impl Flag {
    /// Every flag.
    pub const ALL: [Flag; 3] = [Flag::Linkage, Flag::Complex, Flag::EpsPartner];

    /// The identifier used in data files.
    pub fn id(self) -> &'static str {
        match self {
            Flag::Linkage => "linkage",
            Flag::Complex => "complex",
            Flag::EpsPartner => "eps_partner",
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
