//! Reference data and free text: countries with their tax rules, places, company names,
//! product titles. Some values deliberately carry commas, quotes, line breaks and
//! non-ASCII characters, because real feeds do.

use crate::rng::Rng;

/// A place a buyer can be in, with the tax jurisdictions that apply to a SaaS sale there.
pub struct Place {
    pub state: &'static str,
    pub city: &'static str,
    pub postal: &'static str,
    /// Geocode prefix used for tax_location_code_taxed_jurisdiction.
    pub geo: &'static str,
    /// (level, jurisdiction name, rate in parts per million).
    pub taxes: &'static [(&'static str, &'static str, u32)],
}

pub struct Country {
    pub code: &'static str,
    /// Sold through AWS EMEA SARL (broker AWS_EUROPE) once that entity exists.
    pub emea: bool,
    /// tax_type_code for its taxes (`Sales`, `VAT`, `GST`).
    pub tax_type: &'static str,
    pub places: &'static [Place],
    pub streets: &'static [&'static str],
    pub suffixes: &'static [&'static str],
    pub domain: &'static str,
}

macro_rules! place {
    ($st:expr, $city:expr, $postal:expr, $geo:expr, [$(($lvl:expr, $name:expr, $rate:expr)),*]) => {
        Place { state: $st, city: $city, postal: $postal, geo: $geo, taxes: &[$(($lvl, $name, $rate)),*] }
    };
}

#[rustfmt::skip]
pub static COUNTRIES: &[Country] = &[
    Country {
        code: "US",
        emea: false,
        tax_type: "Sales",
        places: &[
            place!("WA", "Seattle", "98101", "5303", [("State", "WASHINGTON", 65_000), ("County", "KING", 3_000), ("City", "SEATTLE", 35_500)]),
            place!("WA", "Bellevue", "98004", "5303", [("State", "WASHINGTON", 65_000), ("County", "KING", 3_000), ("City", "BELLEVUE", 33_000)]),
            place!("TX", "Houston", "77002", "4820", [("State", "TEXAS", 62_500), ("City", "HOUSTON", 10_000), ("District", "HOUSTON MTA", 10_000)]),
            place!("TX", "Dallas", "75201", "4811", [("State", "TEXAS", 62_500), ("City", "DALLAS", 10_000), ("District", "DALLAS MTA", 10_000)]),
            place!("TX", "Austin", "78701", "4845", [("State", "TEXAS", 62_500), ("City", "AUSTIN", 10_000), ("District", "AUSTIN MTA", 10_000)]),
            place!("NY", "New York", "10001", "3606", [("State", "NEW YORK", 40_000), ("City", "NEW YORK CITY", 45_000), ("District", "METROPOLITAN COMMUTER TRANSPORTATION DISTRICT", 3_750)]),
            place!("PA", "Philadelphia", "19103", "4210", [("State", "PENNSYLVANIA", 60_000), ("County", "PHILADELPHIA", 10_000), ("City", "PHILADELPHIA", 10_000)]),
            place!("OH", "Columbus", "43215", "3904", [("State", "OHIO", 57_500), ("County", "FRANKLIN", 12_500), ("District", "COTA TRANSIT", 5_000)]),
            place!("TN", "Nashville", "37203", "4703", [("State", "TENNESSEE", 70_000), ("County", "DAVIDSON", 22_500), ("City", "NASHVILLE", 2_500)]),
            place!("AZ", "Phoenix", "85004", "0401", [("State", "ARIZONA", 56_000), ("County", "MARICOPA", 7_000), ("City", "PHOENIX", 23_000)]),
            place!("UT", "Salt Lake City", "84101", "4903", [("State", "UTAH", 48_500), ("County", "SALT LAKE", 24_000), ("City", "SALT LAKE CITY", 5_000)]),
            place!("CA", "San Francisco", "94105", "0607", []),
            place!("CO", "Aurora", "80012", "0800", [("State", "COLORADO", 29_000), ("City", "AURORA", 37_500), ("District", "REGIONAL TRANSPORTATION DISTRICT", 10_000)]),
            place!("OR", "Portland", "97204", "4105", []),
            place!("IL", "Chicago", "60601", "1703", [("State", "ILLINOIS", 62_500), ("City", "CHICAGO", 90_000)]),
            place!("SC", "Charleston", "29401", "4501", [("State", "SOUTH CAROLINA", 60_000), ("County", "CHARLESTON", 30_000), ("District", "CHARLESTON TRANSIT", 5_000)]),
            place!("MA", "Boston", "02110", "2502", [("State", "MASSACHUSETTS", 62_500)]),
            place!("CO", "Denver", "80202", "0803", []),
            place!("DC", "Washington", "20001", "1100", [("State", "DISTRICT OF COLUMBIA", 60_000)]),
            place!("FL", "Miami", "33131", "1208", []),
            place!("IA", "Des Moines", "50309", "1915", [("State", "IOWA", 60_000), ("County", "POLK", 5_000), ("City", "DES MOINES", 10_000)]),
            place!("NJ", "Newark", "07102", "3401", [("State", "NEW JERSEY", 66_250)]),
        ],
        streets: &["5th Ave", "Congress Ave", "Main St", "Market St", "NE 8th St", "Lincoln St", "W 31st St", "Ross Ave", "Peachtree St NE", "Broadway"],
        suffixes: &["Inc.", "LLC", "Corp", "Co.", "Holdings, Inc.", "Labs", "Group, LLC", "Technologies"],
        domain: "com",
    },
    Country {
        code: "DE",
        emea: true,
        tax_type: "VAT",
        places: &[
            place!("BE", "Berlin", "10115", "DE", [("Country", "GERMANY", 190_000)]),
            place!("BY", "München", "80331", "DE", [("Country", "GERMANY", 190_000)]),
            place!("HH", "Hamburg", "20095", "DE", [("Country", "GERMANY", 190_000)]),
            place!("HE", "Frankfurt am Main", "60311", "DE", [("Country", "GERMANY", 190_000)]),
        ],
        streets: &["Friedrichstraße", "Maximilianstraße", "Mönckebergstraße", "Zeil", "Königsallee"],
        suffixes: &["GmbH", "AG", "GmbH & Co. KG", "SE"],
        domain: "de",
    },
    Country {
        code: "FR",
        emea: true,
        tax_type: "VAT",
        places: &[
            place!("IDF", "Paris", "75002", "FR", [("Country", "FRANCE", 200_000)]),
            place!("ARA", "Lyon", "69002", "FR", [("Country", "FRANCE", 200_000)]),
        ],
        streets: &["Rue de la Paix", "Boulevard Haussmann", "Rue de la République", "Avenue des Champs-Élysées"],
        suffixes: &["S.A.", "SAS", "SARL"],
        domain: "fr",
    },
    Country {
        code: "GB",
        emea: true,
        tax_type: "VAT",
        places: &[
            place!("ENG", "London", "EC1A 1BB", "GB", [("Country", "UNITED KINGDOM", 200_000)]),
            place!("SCT", "Edinburgh", "EH1 1YZ", "GB", [("Country", "UNITED KINGDOM", 200_000)]),
        ],
        streets: &["Baker Street", "King's Road", "Princes Street", "Old Street"],
        suffixes: &["Ltd", "PLC", "Ltd."],
        domain: "co.uk",
    },
    Country {
        code: "CH",
        emea: true,
        tax_type: "VAT",
        places: &[
            place!("ZH", "Zürich", "8001", "CH", [("Country", "SWITZERLAND", 81_000)]),
            place!("GE", "Genève", "1201", "CH", [("Country", "SWITZERLAND", 81_000)]),
        ],
        streets: &["Bahnhofstrasse", "Rue du Rhône", "Limmatquai"],
        suffixes: &["AG", "GmbH", "SA"],
        domain: "ch",
    },
    Country {
        code: "NL",
        emea: true,
        tax_type: "VAT",
        places: &[place!("NH", "Amsterdam", "1012 AB", "NL", [("Country", "NETHERLANDS", 210_000)])],
        streets: &["Damrak", "Keizersgracht", "Herengracht"],
        suffixes: &["B.V.", "N.V."],
        domain: "nl",
    },
    Country {
        code: "JP",
        emea: false,
        tax_type: "VAT",
        places: &[
            place!("東京都", "千代田区", "100-0005", "JP", [("Country", "JAPAN", 100_000)]),
            place!("大阪府", "大阪市北区", "530-0001", "JP", [("Country", "JAPAN", 100_000)]),
        ],
        streets: &["丸の内1-9-2", "梅田3-1-1", "大手町2-6-1"],
        suffixes: &["株式会社", "合同会社"],
        domain: "co.jp",
    },
    Country {
        code: "IN",
        emea: false,
        tax_type: "GST",
        places: &[
            place!("KA", "Bengaluru", "560001", "IN", [("Country", "INDIA", 180_000)]),
            place!("MH", "Mumbai", "400001", "IN", [("Country", "INDIA", 180_000)]),
        ],
        streets: &["MG Road", "Nariman Point", "Residency Road"],
        suffixes: &["Pvt. Ltd.", "Ltd."],
        domain: "in",
    },
    Country {
        code: "AU",
        emea: false,
        tax_type: "GST",
        places: &[place!("NSW", "Sydney", "2000", "AU", [("Country", "AUSTRALIA", 100_000)])],
        streets: &["George Street", "Pitt Street"],
        suffixes: &["Pty Ltd"],
        domain: "com.au",
    },
    Country {
        code: "CA",
        emea: false,
        tax_type: "GST",
        places: &[
            place!("ON", "Toronto", "M5H 2N2", "CA", [("Country", "CANADA", 50_000)]),
            place!("QC", "Montréal", "H3B 4W8", "CA", [("Country", "CANADA", 50_000)]),
        ],
        streets: &["Bay Street", "Rue Sainte-Catherine"],
        suffixes: &["Inc.", "Ltée", "Corp."],
        domain: "ca",
    },
    Country {
        code: "BR",
        emea: false,
        tax_type: "Sales",
        places: &[place!("SP", "São Paulo", "01310-100", "BR", [])],
        streets: &["Avenida Paulista", "Rua Augusta"],
        suffixes: &["Ltda.", "S.A."],
        domain: "com.br",
    },
    Country {
        code: "SG",
        emea: false,
        tax_type: "GST",
        places: &[place!("", "Singapore", "018989", "SG", [("Country", "SINGAPORE", 90_000)])],
        streets: &["Marina Boulevard", "Raffles Place"],
        suffixes: &["Pte. Ltd."],
        domain: "sg",
    },
];

/// Relative weights of buyer countries (same order as COUNTRIES).
pub const COUNTRY_WEIGHTS: &[u32] = &[72, 4, 2, 4, 1, 1, 5, 4, 2, 3, 1, 1];

const STEMS: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Hooli",
    "Vandelay",
    "Pied Piper",
    "Blue Harbor",
    "Cloudway",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Wingtip",
    "Litware",
    "Adatum",
    "Proseware",
    "Lucerne",
    "Woodgrove",
    "Alpine",
    "Coho",
    "Margie's",
    "Trey",
    "Fourth Coffee",
    "Wide World",
    "Summit",
    "Redwood",
    "Bluebird",
    "Ironclad",
    "Quantum",
    "Helios",
    "Nimbus",
    "Orion",
    "Vertex",
    "Keystone",
];
const MIDDLES: &[&str] = &[
    "Logistics",
    "Analytics",
    "Health",
    "Bank",
    "Insurance",
    "Retail",
    "Media",
    "Energy",
    "Systems",
    "Foods",
    "Motors",
    "Pharma",
    "Software",
    "Airlines",
    "Capital",
    "Robotics",
];
const DE_STEMS: &[&str] = &[
    "Müller & Söhne",
    "Schäfer",
    "Größer Datentechnik",
    "Weiß & Partner",
    "Köhler",
];
const FR_STEMS: &[&str] = &[
    "Société Générale de Données",
    "Crédit Numérique",
    "Hélène Systèmes",
    "Éclair",
];
const JP_STEMS: &[&str] = &["高橋商事", "山田製作所", "佐藤物産", "鈴木システム"];

/// A company name for a buyer in `country`; a few carry commas, quotes or accents.
pub fn company_name(rng: &mut Rng, country: &Country) -> String {
    let suffix = *rng.pick(country.suffixes);
    match country.code {
        "JP" => {
            let stem = rng.pick(JP_STEMS);
            if rng.chance(500) {
                format!("{suffix}{stem}")
            } else {
                format!("{suffix}{stem} ({} K.K.)", rng.pick(STEMS))
            }
        }
        "DE" | "CH" if rng.chance(400) => format!("{} {suffix}", rng.pick(DE_STEMS)),
        "FR" if rng.chance(500) => format!("{} {suffix}", rng.pick(FR_STEMS)),
        _ => {
            let stem = rng.pick(STEMS);
            let mid = rng.pick(MIDDLES);
            match rng.below(20) {
                0 => format!("{stem} \"{mid}\" {suffix}"),
                1..=6 => format!("{stem} {mid}, {suffix}"),
                _ => format!("{stem} {mid} {suffix}"),
            }
        }
    }
}

/// An e-mail domain derived from a company name.
pub fn email_domain(company: &str, country: &Country, salt: u64) -> String {
    let slug: String = company
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(14)
        .collect::<String>()
        .to_ascii_lowercase();
    let slug = if slug.len() < 3 {
        format!("corp{}", salt % 1000)
    } else {
        slug
    };
    format!("{slug}{}.{}", salt % 97, country.domain)
}

/// Address line 1; now and then two lines in one field (a line break inside the value).
pub fn street_line(rng: &mut Rng, country: &Country) -> String {
    let street = rng.pick(country.streets);
    let number = rng.range(1, 2400);
    let line = match country.code {
        "US" | "CA" | "AU" => format!("{number} {street}"),
        "JP" => (*street).to_string(),
        _ => format!("{street} {}", number % 200 + 1),
    };
    if rng.chance(25) {
        format!(
            "{line}\nEingang {}, {}. Stock",
            (b'A' + rng.below(4) as u8) as char,
            rng.range(1, 9)
        )
    } else {
        line
    }
}

/// Optional second address line (suite, floor, dock).
pub fn second_line(rng: &mut Rng) -> Option<String> {
    match rng.below(10) {
        0..=3 => Some(format!("Suite {}", rng.range(100, 2999))),
        4 => Some(format!("Floor {}", rng.range(2, 60))),
        5 => Some(format!("Dock \"{}\"", (b'A' + rng.below(6) as u8) as char)),
        6 => Some(format!("Postfach {}", rng.range(1000, 9999))),
        _ => None,
    }
}

/// Seller brands; the seed picks one.
pub const BRANDS: &[&str] = &[
    "Northwind",
    "Skyline",
    "Cobalt",
    "Brightwave",
    "Keystone",
    "Ferrous",
];
/// Third-party manufacturers whose products the seller resells.
pub const PARTNER_BRANDS: &[&str] = &["Datadyne", "Veridian", "Sirius Cybernetics", "Oscorp"];
pub const RESELLER_NAMES: &[&str] = &[
    "Cloudway Partners, Ltd.",
    "Summit \"Cloud\" Resellers, Inc.",
    "Nordic Cloud Partners AB",
    "Pacific Channel Group",
    "Atlas IT Solutions, LLC",
    "Tokyo Cloud 販売株式会社",
    "Meridian Systems Integration",
    "Helix Distribution GmbH",
];

pub const SAAS_NOUNS: &[&str] = &[
    "Analytics Platform",
    "Stream Ingest",
    "Observability Suite",
    "Data Catalog",
    "Identity Guard",
    "Backup Vault",
    "Feature Store",
    "Cost Explorer Pro",
    "Edge CDN Shield",
    "Log Search",
    "Workflow Orchestrator",
    "Secrets Manager Plus",
    "Vector Search",
    "BI Dashboards",
];
pub const METERED_NOUNS: &[&str] = &[
    "Metered API",
    "Compute Credits",
    "Transcoding Service",
    "Geo Lookup API",
];
pub const SERVICE_NOUNS: &[&str] = &[
    "Onboarding Services",
    "Premium Support",
    "Migration Services",
];
pub const MODEL_NOUNS: &[&str] = &["LLM Gateway", "Vision Model API"];

/// A pricing dimension of a metered product: key, unit, rate (1e-4 of the currency unit
/// per unit) and the granularity of reported quantities (keeps revenue whole cents).
pub struct Dim {
    pub key: &'static str,
    pub unit: &'static str,
    pub rate_e4: i64,
    pub step: i64,
    pub typical: i64,
    pub label: &'static str,
    /// What one unit is, for the charge description.
    pub per: &'static str,
}

pub static DIMS: &[Dim] = &[
    Dim {
        key: "api_requests",
        unit: "Requests",
        rate_e4: 40,
        step: 100,
        typical: 15_000,
        label: "Metered API requests",
        per: "request",
    },
    Dim {
        key: "data_processed_gb",
        unit: "GB",
        rate_e4: 1_200,
        step: 1,
        typical: 400,
        label: "Data processed",
        per: "GB",
    },
    Dim {
        key: "vcpu_hours",
        unit: "Hours",
        rate_e4: 850,
        step: 20,
        typical: 300,
        label: "vCPU hours",
        per: "hour",
    },
    Dim {
        key: "users",
        unit: "Users",
        rate_e4: 25_000,
        step: 1,
        typical: 12,
        label: "Active \"named\" users",
        per: "user",
    },
    Dim {
        key: "tokens_1k",
        unit: "Units",
        rate_e4: 30,
        step: 1000,
        typical: 80_000,
        label: "Model tokens",
        per: "1K tokens",
    },
];

pub const REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "N. Virginia"),
    ("us-west-2", "Oregon"),
    ("eu-central-1", "Frankfurt"),
    ("eu-west-1", "Ireland"),
    ("ap-northeast-1", "Tokyo"),
    ("ap-southeast-2", "Sydney"),
];

/// Countries a geo-targeted (CountryCodes) offer is open to.
pub const GEO_COUNTRIES: &[&str] = &["DE", "FR", "GB", "CH", "NL", "AT", "IE"];
