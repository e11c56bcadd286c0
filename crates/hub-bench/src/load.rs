//! A national-scale load, built deterministically from a seed: areas, devices,
//! approved bulletins, and the commune chairs' opt-ins and orders.
//!
//! The shape is two-tier, as since July 2025: the central area `VN`, up to 34
//! provinces `01`..`34`, and communes `10001`.. split evenly between them and
//! sitting directly under their province. Each commune has
//! `devices_per_commune` devices, about one in ten of them an LED board.
//!
//! Every bulletin is approved, in Vietnamese, with an audio part (60-600 s)
//! and a visual part (30-120 s). Routine ones are valid from the day before
//! until a few days later. In the order the budget is spent:
//! - 3 central priority bulletins for the whole country;
//! - a handful of emergencies (`bulletins / 300`, 2 to 8), each starting at a
//!   random minute between `at` and 23:00, valid for 6 hours, for a whole
//!   province or for 2-4 of its communes;
//! - 5-8 priority bulletins per province for that province, one in three
//!   recurring daily at 05:30 for 7 days (provinces take at most half of what
//!   is left, round-robin, so small loads keep commune bulletins);
//! - the rest are commune bulletins issued by and for one commune, 40 %
//!   priority and 60 % normal; each normal one is opted in by its commune from
//!   a morning (05:00-06:00) or evening (17:00-18:00) time.
//!
//! A quarter of the communes that have priority bulletins of their own get a
//! chair's order putting them ahead of one province (or central) bulletin.

use anyhow::{ensure, Context};
use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use hub_core::{
    local_to_utc, Area, AreaCode, AreaLevel, AreaTree, AudioPart, AudioSource, Bulletin,
    BulletinId, BulletinState, Category, ChairOrder, Device, DeviceId, DeviceKind, Language, OptIn,
    PriorityClass, Programme, Province, Recurrence, Validity, Variant, VisualKind, VisualPart,
    WindowPolicy,
};
use serde::Serialize;

use crate::rng::Rng;

/// Every area of the load keeps Vietnam time.
pub const TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;
/// Provinces since the 2025 merger.
pub const PROVINCES: usize = 34;
/// Communes (commune-level units) since the 2025 reorganisation.
pub const DEFAULT_COMMUNES: usize = 3321;
pub const DEFAULT_DEVICES_PER_COMMUNE: usize = 20;
pub const DEFAULT_BULLETINS: usize = 2000;
pub const DEFAULT_SEED: u64 = 0x4E47_554F_4E20_2026;
/// A Monday morning, as the loudspeaker windows open.
pub const DEFAULT_AT: &str = "2026-11-23T05:00:00+07:00";

/// Recurring province bulletins air daily at this local time...
const RECURRING_AT_MIN: u32 = 5 * 60 + 30;
/// ...for this many days.
const RECURRING_DAYS: u32 = 7;

const CATEGORIES: [Category; 8] = [
    Category::PolicyLaw,
    Category::LocalProjects,
    Category::PoliticsEconomyCulture,
    Category::SecurityMilitary,
    Category::GoodExamples,
    Category::FightingCrime,
    Category::DailyLife,
    Category::Other,
];
const VISUAL_KINDS: [VisualKind; 4] = [
    VisualKind::Text,
    VisualKind::Image,
    VisualKind::Video,
    VisualKind::Infographic,
];

/// What to build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadParams {
    pub communes: usize,
    /// Loudspeaker clusters plus LED boards in each commune.
    pub devices_per_commune: usize,
    pub bulletins: usize,
    pub seed: u64,
    /// When planning starts; validity and opt-ins are set around its local day.
    pub at: DateTime<Utc>,
}

impl Default for LoadParams {
    /// The national scale: 3,321 communes of 20 devices, 2,000 bulletins.
    fn default() -> Self {
        Self {
            communes: DEFAULT_COMMUNES,
            devices_per_commune: DEFAULT_DEVICES_PER_COMMUNE,
            bulletins: DEFAULT_BULLETINS,
            seed: DEFAULT_SEED,
            at: DateTime::parse_from_rfc3339(DEFAULT_AT)
                .expect("DEFAULT_AT is RFC 3339")
                .with_timezone(&Utc),
        }
    }
}

/// What was built, for the human-readable part of a report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LoadStats {
    pub provinces: usize,
    pub communes: usize,
    pub min_communes_per_province: usize,
    pub max_communes_per_province: usize,
    pub loudspeakers: usize,
    pub led_boards: usize,
    pub central_priority: usize,
    pub province_priority: usize,
    /// Of `province_priority`, those recurring daily.
    pub province_recurring: usize,
    pub commune_priority: usize,
    pub commune_normal: usize,
    pub emergencies: usize,
    pub opt_ins: usize,
    pub chair_orders: usize,
}

impl LoadStats {
    pub fn devices(&self) -> usize {
        self.loudspeakers + self.led_boards
    }

    pub fn bulletins(&self) -> usize {
        self.central_priority
            + self.province_priority
            + self.commune_priority
            + self.commune_normal
            + self.emergencies
    }

    pub fn priority(&self) -> usize {
        self.central_priority + self.province_priority + self.commune_priority
    }
}

/// A province (here: the whole country under one hub) and its programme.
#[derive(Clone, Debug)]
pub struct Load {
    pub params: LoadParams,
    pub province: Province,
    pub programme: Programme,
    pub stats: LoadStats,
}

/// Builds the load `params` describes; the same params always give the same load.
pub fn build(params: &LoadParams) -> anyhow::Result<Load> {
    ensure!(params.communes > 0, "the load needs at least one commune");
    ensure!(
        params.devices_per_commune > 0,
        "the load needs at least one device per commune"
    );
    let mut rng = Rng::new(params.seed);
    let mut stats = LoadStats::default();

    // Areas: VN → provinces → communes, split evenly in contiguous blocks.
    let provinces = PROVINCES.min(params.communes);
    let vn = code("VN")?;
    let province_codes = (1..=provinces)
        .map(|p| code(&format!("{p:02}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut communes_of: Vec<Vec<AreaCode>> = vec![Vec::new(); provinces];
    for i in 0..params.communes {
        communes_of[i * provinces / params.communes].push(code(&(10_001 + i).to_string())?);
    }
    let mut areas = vec![Area {
        code: vn.clone(),
        name: "Việt Nam".into(),
        level: AreaLevel::Central,
        parent: None,
    }];
    for (province, communes) in province_codes.iter().zip(&communes_of) {
        areas.push(Area {
            code: province.clone(),
            name: format!("Tỉnh {province}"),
            level: AreaLevel::Province,
            parent: Some(vn.clone()),
        });
        areas.extend(communes.iter().map(|commune| Area {
            code: commune.clone(),
            name: format!("Xã {commune}"),
            level: AreaLevel::Commune,
            parent: Some(province.clone()),
        }));
    }
    let tree = AreaTree::new(areas).context("building the area tree")?;
    stats.provinces = provinces;
    stats.communes = params.communes;
    stats.min_communes_per_province = communes_of.iter().map(Vec::len).min().unwrap_or(0);
    stats.max_communes_per_province = communes_of.iter().map(Vec::len).max().unwrap_or(0);

    // Devices: about one board in ten.
    let boards = (params.devices_per_commune + 5) / 10;
    let speakers = params.devices_per_commune - boards;
    let mut devices = Vec::with_capacity(params.communes * params.devices_per_commune);
    for commune in communes_of.iter().flatten() {
        for (kind, tag, count, label) in [
            (DeviceKind::Loudspeaker, "LS", speakers, "Cụm loa"),
            (DeviceKind::LedBoard, "LB", boards, "Bảng tin"),
        ] {
            for n in 1..=count {
                devices.push(Device {
                    id: DeviceId::parse(&format!("{commune}-{tag}-{n:02}"))?,
                    kind,
                    commune: commune.clone(),
                    name: format!("{label} {n} xã {commune}"),
                });
            }
        }
    }
    stats.loudspeakers = params.communes * speakers;
    stats.led_boards = params.communes * boards;
    let province = Province::new(TZ, tree, WindowPolicy::default(), [], devices)
        .context("building the province")?;

    // The bulletin budget, spent in order.
    let mut left = params.bulletins;
    let central_n = take(&mut left, 3);
    let emergency_n = take(&mut left, (params.bulletins / 300).clamp(2, 8));
    let province_cap = left / 2;
    let wants: Vec<u32> = (0..provinces).map(|_| rng.between(5, 8)).collect();
    let mut per_province = vec![0u32; provinces];
    let mut province_n = 0;
    'fill: for round in 0..8 {
        for (count, want) in per_province.iter_mut().zip(&wants) {
            if province_n == province_cap {
                break 'fill;
            }
            if round < *want {
                *count += 1;
                province_n += 1;
            }
        }
    }
    let commune_n = left - province_n;

    let today = params.at.with_timezone(&TZ).date_naive();
    let mut maker = Maker { rng, seq: 0, today };
    let mut programme = Programme::default();
    let insert = |programme: &mut Programme, bulletin: Bulletin| {
        let id = bulletin.id.clone();
        programme
            .insert_bulletin(&province, bulletin)
            .with_context(|| format!("inserting bulletin {id}"))
            .map(|()| id)
    };

    let mut central_priority = Vec::new();
    for _ in 0..central_n {
        let validity = maker.routine_validity();
        let b = maker.make(
            "vn",
            PriorityClass::Priority,
            AreaLevel::Central,
            &vn,
            vec![vn.clone()],
            validity,
        )?;
        central_priority.push(insert(&mut programme, b)?);
    }
    stats.central_priority = central_n;

    let mut province_priority: Vec<Vec<BulletinId>> = vec![Vec::new(); provinces];
    for (p, count) in per_province.iter().enumerate() {
        let pc = &province_codes[p];
        for _ in 0..*count {
            let recurring = maker.rng.chance(33);
            let validity = if recurring {
                let not_before = maker.local(maker.yesterday(), 0);
                Validity {
                    not_before,
                    expires: not_before + Days::new(u64::from(RECURRING_DAYS) + 1),
                }
            } else {
                maker.routine_validity()
            };
            let mut b = maker.make(
                &format!("p{pc}"),
                PriorityClass::Priority,
                AreaLevel::Province,
                pc,
                vec![pc.clone()],
                validity,
            )?;
            if recurring {
                b.recurrence = Some(Recurrence {
                    at: vec![clock(RECURRING_AT_MIN)],
                    days: RECURRING_DAYS,
                });
                stats.province_recurring += 1;
            }
            province_priority[p].push(insert(&mut programme, b)?);
        }
    }
    stats.province_priority = province_n;

    let all_communes: Vec<&AreaCode> = communes_of.iter().flatten().collect();
    let mut own_priority: Vec<Vec<BulletinId>> = vec![Vec::new(); params.communes];
    for _ in 0..commune_n {
        let c = maker.rng.below(all_communes.len());
        let commune = all_communes[c];
        let class = if maker.rng.chance(40) {
            PriorityClass::Priority
        } else {
            PriorityClass::Normal
        };
        let validity = maker.routine_validity();
        let b = maker.make(
            &format!("c{commune}"),
            class,
            AreaLevel::Commune,
            commune,
            vec![commune.clone()],
            validity,
        )?;
        let id = insert(&mut programme, b)?;
        if class == PriorityClass::Priority {
            own_priority[c].push(id);
            stats.commune_priority += 1;
        } else {
            let from = if maker.rng.chance(50) {
                5 * 60
            } else {
                17 * 60
            };
            let at = today.and_time(clock(from + maker.rng.between(0, 59)));
            programme
                .set_opt_in(
                    &province,
                    OptIn {
                        commune: commune.clone(),
                        bulletin: id.clone(),
                        at,
                    },
                )
                .with_context(|| format!("opting {id} in for {commune}"))?;
            stats.commune_normal += 1;
            stats.opt_ins += 1;
        }
    }

    // Emergencies start between `at` and an hour before midnight.
    let latest = maker.local(today + Days::new(1), 0) - TimeDelta::hours(1);
    let minutes = usize::try_from((latest - params.at).num_minutes().max(0))?;
    for _ in 0..emergency_n {
        let p = maker.rng.below(provinces);
        let pc = &province_codes[p];
        let communes = &communes_of[p];
        let (level, issuer, targets) = if communes.len() < 2 || maker.rng.chance(50) {
            if maker.rng.chance(50) {
                (AreaLevel::Central, &vn, vec![pc.clone()])
            } else {
                (AreaLevel::Province, pc, vec![pc.clone()])
            }
        } else {
            let mut picked = communes.clone();
            maker.rng.shuffle(&mut picked);
            picked.truncate((maker.rng.between(2, 4) as usize).min(communes.len()));
            picked.sort();
            (AreaLevel::Province, pc, picked)
        };
        let not_before = params.at + TimeDelta::minutes(maker.rng.below(minutes + 1) as i64);
        let validity = Validity {
            not_before,
            expires: not_before + TimeDelta::hours(6),
        };
        let mut b = maker.make(
            "em",
            PriorityClass::Emergency,
            level,
            issuer,
            targets,
            validity,
        )?;
        b.category = Category::DisasterEmergency;
        insert(&mut programme, b)?;
    }
    stats.emergencies = emergency_n;

    // Chairs put their own priority bulletins ahead of a province (or central) one.
    for (c, own) in own_priority.iter().enumerate() {
        if own.is_empty() || !maker.rng.chance(25) {
            continue;
        }
        let commune = all_communes[c];
        let mut order = own.clone();
        maker.rng.shuffle(&mut order);
        let p = c * provinces / params.communes;
        let upper = if province_priority[p].is_empty() {
            &central_priority
        } else {
            &province_priority[p]
        };
        if !upper.is_empty() {
            order.push(maker.rng.pick(upper).clone());
        }
        programme
            .set_chair_order(
                &province,
                ChairOrder {
                    commune: commune.clone(),
                    order,
                },
            )
            .with_context(|| format!("setting the chair order of {commune}"))?;
        stats.chair_orders += 1;
    }

    Ok(Load {
        params: params.clone(),
        province,
        programme,
        stats,
    })
}

/// Takes up to `n` from `left`.
fn take(left: &mut usize, n: usize) -> usize {
    let taken = n.min(*left);
    *left -= taken;
    taken
}

fn code(text: &str) -> anyhow::Result<AreaCode> {
    Ok(AreaCode::parse(text)?)
}

/// The local time `minute` minutes after midnight (below 24:00).
fn clock(minute: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).expect("a minute of the day")
}

/// Makes bulletins with unique ids and random parts.
struct Maker {
    rng: Rng,
    seq: usize,
    today: NaiveDate,
}

impl Maker {
    fn yesterday(&self) -> NaiveDate {
        self.today - Days::new(1)
    }

    fn local(&self, date: NaiveDate, minute: u32) -> DateTime<Utc> {
        local_to_utc(date.and_time(clock(minute)), TZ)
    }

    /// From some time yesterday until midnight two to five days from today.
    fn routine_validity(&mut self) -> Validity {
        let from = self.rng.between(6 * 60, 20 * 60);
        let days = self.rng.between(2, 5);
        Validity {
            not_before: self.local(self.yesterday(), from),
            expires: self.local(self.today + Days::new(u64::from(days)), 0),
        }
    }

    fn make(
        &mut self,
        prefix: &str,
        class: PriorityClass,
        level: AreaLevel,
        issuer: &AreaCode,
        targets: Vec<AreaCode>,
        validity: Validity,
    ) -> anyhow::Result<Bulletin> {
        self.seq += 1;
        let id = BulletinId::parse(&format!("{prefix}-{:05}", self.seq))?;
        let title = format!("Bản tin {id}");
        let source = if self.rng.chance(50) {
            AudioSource::Speech {
                text: format!("Nội dung {title}."),
            }
        } else {
            AudioSource::Recorded
        };
        Ok(Bulletin {
            title: title.clone(),
            category: *self.rng.pick(&CATEGORIES),
            level,
            issuer: issuer.clone(),
            class,
            targets,
            validity,
            recurrence: None,
            variants: vec![Variant {
                language: Language::vietnamese(),
                audio: Some(AudioPart {
                    source,
                    secs: self.rng.between(60, 600),
                    media: None,
                }),
                visual: Some(VisualPart {
                    kind: *self.rng.pick(&VISUAL_KINDS),
                    secs: self.rng.between(30, 120),
                    text: Some(title),
                    media: None,
                }),
            }],
            sensitive: false,
            state: BulletinState::Approved,
            id,
            devices: None,
            corrects: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(communes: usize, devices_per_commune: usize, bulletins: usize) -> LoadParams {
        LoadParams {
            communes,
            devices_per_commune,
            bulletins,
            ..LoadParams::default()
        }
    }

    #[test]
    fn the_same_seed_builds_the_same_load() {
        let params = small(40, 5, 60);
        let (a, b) = (build(&params).unwrap(), build(&params).unwrap());
        let bulletins = |l: &Load| l.programme.bulletins().cloned().collect::<Vec<_>>();
        assert_eq!(bulletins(&a), bulletins(&b));
        assert_eq!(a.stats, b.stats);
        let other = build(&LoadParams { seed: 1, ..params }).unwrap();
        assert_ne!(bulletins(&a), bulletins(&other));
    }

    #[test]
    fn the_load_has_the_requested_size_and_mix() {
        let load = build(&small(40, 5, 60)).unwrap();
        let s = &load.stats;
        assert_eq!((s.provinces, s.communes), (34, 40));
        assert_eq!(
            (s.min_communes_per_province, s.max_communes_per_province),
            (1, 2)
        );
        assert_eq!((s.loudspeakers, s.led_boards), (160, 40));
        assert_eq!(load.province.devices().count(), 200);
        assert_eq!(s.bulletins(), 60);
        assert_eq!(load.programme.bulletins().count(), 60);
        assert_eq!((s.central_priority, s.emergencies), (3, 2));
        assert!(s.province_priority > 0 && s.commune_priority + s.commune_normal > 0);
        assert_eq!(s.opt_ins, load.programme.opt_ins().count());
    }

    #[test]
    fn chairs_order_their_own_bulletins_ahead_of_a_province_one() {
        let load = build(&small(300, 1, 1000)).unwrap();
        assert!(load.stats.chair_orders > 0);
        assert_eq!(
            load.stats.chair_orders,
            load.programme.chair_orders().count()
        );
        for chair in load.programme.chair_orders() {
            let targeted: Vec<&BulletinId> = load.programme.bulletins_for(&chair.commune).collect();
            for id in &chair.order {
                let b = load.programme.bulletin(id).unwrap();
                assert_eq!(b.class, PriorityClass::Priority, "{id}");
                assert!(
                    targeted.contains(&id),
                    "{id} does not target {}",
                    chair.commune
                );
            }
            let first = load.programme.bulletin(&chair.order[0]).unwrap();
            assert_eq!(
                (first.level, &first.issuer),
                (AreaLevel::Commune, &chair.commune)
            );
        }
        let with_upper = load.programme.chair_orders().filter(|c| {
            let last = load.programme.bulletin(c.order.last().unwrap()).unwrap();
            last.level < AreaLevel::Commune
        });
        assert!(with_upper.count() > 0);
    }

    #[test]
    fn tiny_and_empty_budgets_still_build() {
        for bulletins in [0, 1, 4, 7] {
            let load = build(&small(3, 1, bulletins)).unwrap();
            assert_eq!(load.stats.bulletins(), bulletins);
            assert_eq!(load.stats.provinces, 3);
        }
        assert!(build(&small(0, 1, 1)).is_err());
        assert!(build(&small(1, 0, 1)).is_err());
    }
}
