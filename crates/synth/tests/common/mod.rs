//! Reads a generated output folder back and measures it.
#![allow(dead_code)]

use aim_model::delivery::Manifest;
use aim_synth::{SynthConfig, SynthSummary};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

pub fn config(
    persons: u64,
    years: std::ops::RangeInclusive<i32>,
    seed: u64,
    out: PathBuf,
    defects: bool,
) -> SynthConfig {
    SynthConfig {
        persons,
        years,
        seed,
        out,
        defects,
        reference_dir: aim_model::geography::default_reference_dir(),
        ttp_key: None,
        gzip: true,
    }
}

pub fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aim-synth-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub fn run(cfg: &SynthConfig) -> SynthSummary {
    aim_synth::generate(cfg, &|_| {}).expect("generation succeeds")
}

pub fn read_file(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    } else {
        String::from_utf8(bytes).unwrap()
    }
}

/// Every delivery folder: (folder, manifest).
pub fn deliveries(out: &Path) -> Vec<(PathBuf, Manifest)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(out).unwrap() {
        let p = e.unwrap().path();
        let m = p.join("manifest.json");
        if m.exists() {
            let man: Manifest =
                serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
            v.push((p, man));
        }
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Rows of one delivery as (header, rows of fields).
pub fn rows(dir: &Path, m: &Manifest) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = Vec::new();
    let mut out = Vec::new();
    for f in &m.files {
        let text = read_file(&dir.join(&f.name));
        let mut lines = text.lines();
        header = lines
            .next()
            .unwrap()
            .split(';')
            .map(str::to_string)
            .collect();
        out.extend(lines.map(|l| l.split(';').map(str::to_string).collect::<Vec<_>>()));
    }
    (header, out)
}

#[derive(Default, Debug, Clone)]
pub struct Acc {
    pub reimb: f64,
    pub copay: f64,
    pub faru: f64,
    pub gp: u32,
    pub ed: u32,
    pub dental: bool,
    pub dmg: bool,
    pub ddd: BTreeMap<String, f64>,
    pub antibiotic: bool,
    pub antidepressant: bool,
    pub flu: bool,
}

#[derive(Default, Debug, Clone)]
pub struct PersonInfo {
    pub birth_year: i32,
    pub male: bool,
    pub bim: bool,
    pub nh_q4: Option<bool>,
    pub region: char,
    pub dead: bool,
}

pub struct Analysis {
    pub persons: HashMap<String, PersonInfo>,
    pub acc: HashMap<String, Acc>,
    pub gzss_rows: u64,
    pub faru_rows: u64,
    pub stays_classic: Vec<(String, String, String, String, String)>, // person, inst, adm, dis, room
    pub stays_day: u64,
    pub stay_cost: HashMap<(String, String), Vec<(String, f64)>>, // (person, inst) -> (date, copay+supp) of stay lines
    pub ddd_antibiotics: f64,
    pub year: i32,
    pub by_code: BTreeMap<String, (u64, f64)>,
}

pub fn analyse(out: &Path, year: i32) -> Analysis {
    let mut persons: HashMap<String, PersonInfo> = HashMap::new();
    let mut acc: HashMap<String, Acc> = HashMap::new();
    let mut stay_cost: HashMap<(String, String), Vec<(String, f64)>> = HashMap::new();
    let (mut gzss_rows, mut faru_rows, mut ddd_ab) = (0, 0, 0.0);
    let mut by_code: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    let dels = deliveries(out);
    for (dir, m) in dels.iter().filter(|(_, m)| m.period.year == year) {
        let (h, rows) = rows(dir, m);
        let ix = |n: &str| h.iter().position(|c| c == n).unwrap();
        match m.database {
            aim_model::Database::Popu => {
                let (pid, by, sex, muni, bim, nh, death) = (
                    ix("person_id"),
                    ix("birth_year"),
                    ix("sex"),
                    ix("municipality"),
                    ix("increased_reimbursement"),
                    ix("nursing_home"),
                    ix("death_date"),
                );
                for r in rows {
                    let e = persons.entry(r[pid].clone()).or_default();
                    e.birth_year = r[by].parse().unwrap();
                    e.male = r[sex] == "M";
                    e.bim = r[bim] == "true";
                    e.region = match &r[muni][..1] {
                        "2" if r[muni].starts_with("21") => 'B',
                        "1" | "3" | "4" | "7" => 'F',
                        "2" => 'F',
                        _ => 'W',
                    };
                    if r[muni].starts_with("23") || r[muni].starts_with("24") {
                        e.region = 'F';
                    }
                    if r[muni].starts_with("25") {
                        e.region = 'W';
                    }
                    if m.period.quarter == 4 {
                        e.nh_q4 = Some(r[nh] == "true");
                    }
                    if !r[death].is_empty() {
                        e.dead = true;
                    }
                }
            }
            aim_model::Database::Gzss => {
                let (pid, nomen, date, inst, reimb, copay, supp) = (
                    ix("person_id"),
                    ix("nomenclature"),
                    ix("service_date"),
                    ix("institution_id"),
                    ix("amount_reimbursed"),
                    ix("copayment"),
                    ix("supplement"),
                );
                for r in rows {
                    gzss_rows += 1;
                    let a = acc.entry(r[pid].clone()).or_default();
                    let (re, co, su): (f64, f64, f64) = (
                        r[reimb].parse().unwrap(),
                        r[copay].parse().unwrap(),
                        r[supp].parse().unwrap(),
                    );
                    a.reimb += re;
                    a.copay += co;
                    let bc = by_code.entry(r[nomen].clone()).or_default();
                    bc.0 += 1;
                    bc.1 += re;
                    match r[nomen].as_str() {
                        "101010" | "101032" | "103132" => a.gp += 1,
                        "102771" => a.dmg = true,
                        "590251" => a.ed += 1,
                        "371011" => a.dental = true,
                        "768014" | "768051" => stay_cost
                            .entry((r[pid].clone(), r[inst].clone()))
                            .or_default()
                            .push((r[date].clone(), co + su)),
                        _ => {}
                    }
                }
            }
            aim_model::Database::Faru => {
                let (pid, atc, ddd, reimb, copay) = (
                    ix("person_id"),
                    ix("atc"),
                    ix("ddd"),
                    ix("amount_reimbursed"),
                    ix("copayment"),
                );
                for r in rows {
                    faru_rows += 1;
                    let a = acc.entry(r[pid].clone()).or_default();
                    let re: f64 = r[reimb].parse().unwrap();
                    a.reimb += re;
                    a.faru += re;
                    let bc = by_code.entry(format!("FARU {}", &r[atc][..3])).or_default();
                    bc.0 += 1;
                    bc.1 += re;
                    a.copay += r[copay].parse::<f64>().unwrap();
                    let d: f64 = r[ddd].parse().unwrap();
                    *a.ddd.entry(r[atc].clone()).or_default() += d;
                    if r[atc].starts_with("J01") {
                        a.antibiotic = true;
                        ddd_ab += d;
                    }
                    if r[atc].starts_with("N06A") {
                        a.antidepressant = true;
                    }
                    if r[atc] == "J07BB02" {
                        a.flu = true;
                    }
                }
            }
            _ => {}
        }
    }
    let mut stays_classic = Vec::new();
    let mut stays_day = 0;
    let text = std::fs::read_to_string(out.join("truth/stays.csv")).unwrap();
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if !f[3].starts_with(&year.to_string()) {
            continue;
        }
        if f[5] == "classic" {
            stays_classic.push((
                f[0].to_string(),
                f[2].to_string(),
                f[3].to_string(),
                f[4].to_string(),
                f[7].to_string(),
            ));
        } else {
            stays_day += 1;
        }
    }
    Analysis {
        persons,
        acc,
        gzss_rows,
        faru_rows,
        stays_classic,
        stays_day,
        stay_cost,
        ddd_antibiotics: ddd_ab,
        year,
        by_code,
    }
}

fn top5(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(|a, b| b.partial_cmp(a).unwrap());
    let total: f64 = values.iter().sum();
    let k = (values.len() as f64 * 0.05).round() as usize;
    let top: f64 = values[..k].iter().sum();
    (top / total, values[k.saturating_sub(1)])
}

/// One measured indicator.
#[derive(Debug, Clone)]
pub struct Measure {
    pub name: &'static str,
    pub value: f64,
    pub target: f64,
    pub tolerance: f64,
}

impl Measure {
    pub fn ok(&self) -> bool {
        (self.value - self.target).abs() <= self.tolerance
    }
}

impl Analysis {
    pub fn measures(&self) -> Vec<Measure> {
        let n = self.persons.len() as f64;
        let empty = Acc::default();
        let get = |p: &str| self.acc.get(p).unwrap_or(&empty);
        let mut v = Vec::new();
        let mut push = |name, value, target, tolerance| {
            v.push(Measure {
                name,
                value,
                target,
                tolerance,
            })
        };
        let mut reimb: Vec<f64> = self.persons.keys().map(|p| get(p).reimb).collect();
        let mean_reimb = reimb.iter().sum::<f64>() / n;
        let (share, threshold) = top5(&mut reimb);
        // Co-payments of the top 5 % of spenders.
        let mut by_spend: Vec<(f64, f64)> = self
            .persons
            .keys()
            .map(|p| (get(p).reimb, get(p).copay))
            .collect();
        by_spend.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
        let k = (n * 0.05).round() as usize;
        let copay_total: f64 = by_spend.iter().map(|x| x.1).sum();
        let copay_top: f64 = by_spend[..k].iter().map(|x| x.1).sum();
        let mut faru: Vec<f64> = self.persons.keys().map(|p| get(p).faru).collect();
        let (faru_share, _) = top5(&mut faru);
        push(
            "mean reimbursed per person (EUR)",
            mean_reimb,
            3200.0,
            320.0,
        );
        push(
            "mean co-payment per person (EUR)",
            copay_total / n,
            155.0,
            25.0,
        );
        push("top 5 % share of reimbursed (%)", 100.0 * share, 57.6, 5.0);
        push("top 5 % threshold (EUR)", threshold, 14000.0, 3500.0);
        push(
            "top 5 % share of medicines (%)",
            100.0 * faru_share,
            73.5,
            6.0,
        );
        push(
            "top 5 % share of co-payments (%)",
            100.0 * copay_top / copay_total,
            29.1,
            5.0,
        );
        // Drug-based prevalences (>= 80 DDD in the year).
        let with = |pred: &dyn Fn(&str) -> bool| -> f64 {
            self.persons
                .keys()
                .filter(|p| {
                    get(p)
                        .ddd
                        .iter()
                        .filter(|(a, _)| pred(a))
                        .map(|(_, d)| d)
                        .sum::<f64>()
                        >= 80.0
                })
                .count() as f64
                / n
        };
        push(
            "diabetes, A10 >= 80 DDD (%)",
            100.0 * with(&|a| a.starts_with("A10")),
            5.8,
            0.9,
        );
        push(
            "hypertension, C03/C07/C08/C09 >= 80 DDD (%)",
            100.0
                * with(&|a| {
                    ["C03", "C07", "C08", "C09"]
                        .iter()
                        .any(|x| a.starts_with(x))
                }),
            24.6,
            3.0,
        );
        push(
            "hypercholesterolaemia, C10 >= 80 DDD (%)",
            100.0 * with(&|a| a.starts_with("C10")),
            16.2,
            2.0,
        );
        let poly = |p: &str| get(p).ddd.values().filter(|d| **d >= 80.0).count() >= 5;
        let old: Vec<&String> = self
            .persons
            .iter()
            .filter(|(_, i)| self.year - i.birth_year >= 65)
            .map(|(p, _)| p)
            .collect();
        let nold = old.len() as f64;
        push(
            "polypharmacy, all (%)",
            100.0 * self.persons.keys().filter(|p| poly(p)).count() as f64 / n,
            13.5,
            2.5,
        );
        push(
            "polypharmacy, 65+ (%)",
            100.0 * old.iter().filter(|p| poly(p)).count() as f64 / nold,
            43.4,
            5.0,
        );
        push(
            "antibiotic users (%)",
            100.0 * self.persons.keys().filter(|p| get(p).antibiotic).count() as f64 / n,
            35.0,
            5.0,
        );
        push(
            "antibiotic DDD per 1000 inhabitants per day",
            self.ddd_antibiotics / n / 365.0 * 1000.0,
            18.5,
            4.0,
        );
        let adults: Vec<&String> = self
            .persons
            .iter()
            .filter(|(_, i)| self.year - i.birth_year >= 18)
            .map(|(p, _)| p)
            .collect();
        push(
            "antidepressant users, adults (%)",
            100.0 * adults.iter().filter(|p| get(p).antidepressant).count() as f64
                / adults.len() as f64,
            13.3,
            2.0,
        );
        let home65: Vec<&String> = old
            .iter()
            .copied()
            .filter(|p| self.persons[*p].nh_q4 == Some(false))
            .collect();
        push(
            "flu vaccine, 65+ at home (%)",
            100.0 * home65.iter().filter(|p| get(p).flu).count() as f64 / home65.len() as f64,
            54.0,
            4.0,
        );
        let gp_users: Vec<&String> = self.persons.keys().filter(|p| get(p).gp > 0).collect();
        push(
            "persons with >= 1 GP contact (%)",
            100.0 * gp_users.len() as f64 / n,
            85.0,
            3.0,
        );
        push(
            "GP contacts per patient",
            gp_users.iter().map(|p| f64::from(get(p).gp)).sum::<f64>() / gp_users.len() as f64,
            6.1,
            0.6,
        );
        let w75: Vec<&&String> = gp_users
            .iter()
            .filter(|p| !self.persons[**p].male && self.year - self.persons[**p].birth_year >= 75)
            .collect();
        push(
            "GP contacts per patient, women 75+",
            w75.iter().map(|p| f64::from(get(p).gp)).sum::<f64>() / w75.len() as f64,
            11.0,
            1.5,
        );
        push(
            "persons with >= 1 emergency contact (%)",
            100.0 * self.persons.keys().filter(|p| get(p).ed > 0).count() as f64 / n,
            19.2,
            2.0,
        );
        let bims: Vec<&String> = self
            .persons
            .iter()
            .filter(|(_, i)| i.bim)
            .map(|(p, _)| p)
            .collect();
        push(
            "emergency contact, increased reimbursement (%)",
            100.0 * bims.iter().filter(|p| get(p).ed > 0).count() as f64 / bims.len() as f64,
            26.1,
            3.0,
        );
        push(
            "classic stays per 1,000",
            1000.0 * self.stays_classic.len() as f64 / n,
            160.0,
            15.0,
        );
        push(
            "day stays per 1,000",
            1000.0 * self.stays_day as f64 / n,
            260.0,
            25.0,
        );
        let los: f64 = self
            .stays_classic
            .iter()
            .map(|s| {
                (s.3.parse::<chrono::NaiveDate>().unwrap()
                    - s.2.parse::<chrono::NaiveDate>().unwrap())
                .num_days() as f64
            })
            .sum::<f64>()
            / self.stays_classic.len() as f64;
        push("classic stay length (days)", los, 5.0, 0.6);
        let (mut single, mut shared) = (Vec::new(), Vec::new());
        for s in &self.stays_classic {
            let lines = self.stay_cost.get(&(s.0.clone(), s.1.clone()));
            let cost: f64 = lines.map_or(0.0, |l| {
                l.iter()
                    .filter(|(d, _)| d.as_str() >= s.2.as_str() && d.as_str() <= s.3.as_str())
                    .map(|x| x.1)
                    .sum()
            });
            if s.4 == "S" {
                single.push(cost)
            } else {
                shared.push(cost)
            }
        }
        push(
            "patient cost per classic stay, single room (EUR)",
            single.iter().sum::<f64>() / single.len() as f64,
            2778.0,
            450.0,
        );
        push(
            "patient cost per classic stay, shared room (EUR)",
            shared.iter().sum::<f64>() / shared.len() as f64,
            323.0,
            60.0,
        );
        push(
            "increased reimbursement (%)",
            100.0 * bims.len() as f64 / n,
            18.9,
            1.5,
        );
        for (reg, target) in [('B', 31.6), ('W', 21.2), ('F', 15.6)] {
            let inreg: Vec<&PersonInfo> =
                self.persons.values().filter(|i| i.region == reg).collect();
            let name = match reg {
                'B' => "increased reimbursement, Brussels (%)",
                'W' => "increased reimbursement, Wallonia (%)",
                _ => "increased reimbursement, Flanders (%)",
            };
            push(
                name,
                100.0 * inreg.iter().filter(|i| i.bim).count() as f64 / inreg.len() as f64,
                target,
                3.0,
            );
        }
        let old_q4: Vec<&&String> = old
            .iter()
            .filter(|p| self.persons[**p].nh_q4.is_some())
            .collect();
        push(
            "nursing-home residents among 65+ (%)",
            100.0
                * old_q4
                    .iter()
                    .filter(|p| self.persons[***p].nh_q4 == Some(true))
                    .count() as f64
                / old_q4.len() as f64,
            6.5,
            1.0,
        );
        push(
            "deaths per 1,000",
            1000.0 * self.persons.values().filter(|i| i.dead).count() as f64 / n,
            9.5,
            1.5,
        );
        push(
            "dental check-up (%)",
            100.0 * self.persons.keys().filter(|p| get(p).dental).count() as f64 / n,
            52.0,
            4.0,
        );
        push(
            "GZSS lines per person",
            self.gzss_rows as f64 / n,
            27.0,
            8.0,
        );
        push(
            "FARU lines per person",
            self.faru_rows as f64 / n,
            11.5,
            3.5,
        );
        v
    }
}

pub fn table(ms: &[Measure]) -> String {
    let mut s =
        String::from("| indicator | measured | target | tolerance | ok |\n|---|---|---|---|---|\n");
    for m in ms {
        s.push_str(&format!(
            "| {} | {:.2} | {} | ± {} | {} |\n",
            m.name,
            m.value,
            m.target,
            m.tolerance,
            if m.ok() { "yes" } else { "NO" }
        ));
    }
    s
}

pub fn distinct(v: impl Iterator<Item = String>) -> usize {
    v.collect::<HashSet<_>>().len()
}
