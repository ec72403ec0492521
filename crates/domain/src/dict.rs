//! Reference values. The ones the campaign rules depend on (initial judgement, grade, the two
//! kinds of measure, closure basis) are Rust enums; the descriptive ones (structure type,
//! business type, hazard parts, …) are editable dictionaries whose defaults live here.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

crate::coded! {
    /// 隐患初判 (initial judgement at survey).
    #[derive(Hash, PartialOrd, Ord)]
    pub enum Judgement {
        #[strum(message = "未发现安全隐患")]
        NoHazard,
        #[strum(message = "存在一定安全隐患")]
        Hazard,
        #[strum(message = "存在严重安全隐患")]
        Severe,
    }
}

impl Judgement {
    /// Whether the house enters column ① (初判隐患).
    pub fn is_hazard(self) -> bool {
        !matches!(self, Judgement::NoHazard)
    }

    /// The dashboard code of the national platform: 1 severe, 2 none, 3 some.
    pub fn platform_code(self) -> u8 {
        match self {
            Judgement::Severe => 1,
            Judgement::NoHazard => 2,
            Judgement::Hazard => 3,
        }
    }
}

crate::coded! {
    /// 风险分级.
    #[derive(Hash, PartialOrd, Ord)]
    pub enum RiskLevel {
        #[strum(message = "有结构倒塌风险")]
        CollapseRisk,
        #[strum(message = "暂无结构倒塌风险")]
        NoCollapseRisk,
        #[strum(message = "一般安全隐患")]
        General,
    }
}

crate::coded! {
    /// 鉴定等级 (JGJ 125-2016).
    #[derive(Hash, PartialOrd, Ord)]
    pub enum Grade {
        #[strum(message = "A级")]
        A,
        #[strum(message = "B级")]
        B,
        #[strum(message = "C级")]
        C,
        #[strum(message = "D级")]
        D,
    }
}

impl Grade {
    /// C and D call for rectification (column ⑤).
    pub fn is_dangerous(self) -> bool {
        matches!(self, Grade::C | Grade::D)
    }
}

crate::coded! {
    /// 处理建议.
    #[derive(Hash, PartialOrd, Ord)]
    pub enum HandlingAdvice {
        #[strum(message = "观察使用")]
        Observe,
        #[strum(message = "处理使用")]
        TreatAndUse,
        #[strum(message = "停止使用")]
        StopUse,
        #[strum(message = "整体拆除")]
        Demolish,
    }
}

crate::coded! {
    /// 管理措施: interim control. **None of these can close a hazard** (rule R1).
    #[derive(Hash, PartialOrd, Ord)]
    pub enum MgmtMeasure {
        #[strum(message = "停止使用")]
        StopUse,
        #[strum(message = "停止经营")]
        StopBusiness,
        #[strum(message = "封控警示")]
        Cordon,
        #[strum(message = "人员撤离")]
        Evacuate,
        #[strum(message = "增加围挡")]
        Hoarding,
        #[strum(message = "临时支顶（增加立柱）")]
        TemporaryProps,
        #[strum(message = "刷墙勾缝")]
        WallPatching,
        #[strum(message = "其他管理措施")]
        Other,
    }
}

crate::coded! {
    /// 工程措施: the only measures that may close a hazard once completed and accepted.
    #[derive(Hash, PartialOrd, Ord)]
    pub enum EngMeasure {
        #[strum(message = "维修加固")]
        Reinforce,
        #[strum(message = "拆除")]
        Demolish,
        #[strum(message = "拆除重建")]
        Rebuild,
    }
}

crate::coded! {
    /// 房屋用途: the notice's core split between business use and the rest.
    #[derive(Hash, PartialOrd, Ord)]
    pub enum UsageCategory {
        #[strum(message = "经营性自建房")]
        Business,
        #[strum(message = "自住兼经营性自建房")]
        MixedBusiness,
        #[strum(message = "其他自建房")]
        Other,
    }
}

impl UsageCategory {
    pub fn is_business(self) -> bool {
        !matches!(self, UsageCategory::Other)
    }
}

crate::coded! {
    /// Finding of an on-site professional review (专业技术人员现场复核).
    #[derive(Hash, PartialOrd, Ord)]
    pub enum ReviewFinding {
        #[strum(message = "经复核无安全隐患")]
        NoHazard,
        #[strum(message = "经复核存在安全隐患")]
        Hazard,
    }
}

crate::coded! {
    /// 销号依据: what a closure rests on. `ManagementMeasure` exists only so that the attempt can
    /// be named and refused (R1).
    #[derive(Hash, PartialOrd, Ord)]
    pub enum ClosureBasis {
        #[strum(message = "专业技术人员复核无隐患")]
        ReviewNoHazard,
        #[strum(message = "鉴定为A、B级")]
        #[strum(serialize = "appraisal_a_b")]
        AppraisalAB,
        #[strum(message = "工程措施整治完成并验收")]
        Engineering,
        #[strum(message = "采取管理措施")]
        ManagementMeasure,
    }
}

crate::coded! {
    /// How a house came to be known to the system.
    #[derive(Hash, PartialOrd, Ord)]
    pub enum RegistrationSource {
        #[strum(message = "普查导入")]
        Census,
        #[strum(message = "动态摸排新增")]
        DynamicSurvey,
        #[strum(message = "核查发现漏排")]
        MissedFound,
        #[strum(message = "台账导入")]
        LedgerImport,
    }
}

/// Editable descriptive dictionaries: kind → allowed labels, in display order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dictionaries {
    pub kinds: BTreeMap<String, Vec<String>>,
}

/// Names of the descriptive dictionary kinds, as stored.
pub mod kind {
    pub const BUSINESS_TYPE: &str = "business_type";
    pub const STRUCTURE_TYPE: &str = "structure_type";
    pub const ZONE_TYPE: &str = "zone_type";
    pub const LAND_TYPE: &str = "land_type";
    pub const WALL_MATERIAL: &str = "wall_material";
    pub const FLOOR_SLAB: &str = "floor_slab";
    pub const ROOF_TYPE: &str = "roof_type";
    pub const DESIGN_MODE: &str = "design_mode";
    pub const BUILDER_MODE: &str = "builder_mode";
    pub const SEISMIC_MEASURE: &str = "seismic_measure";
    pub const ALTERATION_TYPE: &str = "alteration_type";
    pub const PERMIT: &str = "permit";
    pub const ILLEGAL_FLAG: &str = "illegal_flag";
    pub const SURVEY_ROUND: &str = "survey_round";
    pub const GEOHAZARD: &str = "geohazard";
    pub const HAZARD_CATEGORY: &str = "hazard_category";
    pub const HAZARD_PART: &str = "hazard_part";
    pub const FIRE_HAZARD: &str = "fire_hazard";
    pub const APPRAISAL_STANDARD: &str = "appraisal_standard";
    pub const OWNER_ROLE: &str = "owner_role";
    pub const NOTICE_METHOD: &str = "notice_method";
    pub const ENFORCEMENT: &str = "enforcement";
}

const DEFAULTS: &[(&str, &[&str])] = &[
    (
        kind::BUSINESS_TYPE,
        &[
            "餐饮饭店",
            "批发零售",
            "住宿宾馆/民宿宾馆",
            "休闲娱乐（文化娱乐）",
            "教育培训（教育设施）",
            "医疗卫生",
            "养老服务",
            "生产加工",
            "仓储物流",
            "出租居住",
            "其他",
        ],
    ),
    (
        kind::STRUCTURE_TYPE,
        &[
            "砌体结构(砖混)",
            "底部框架-抗震墙上部砌体结构",
            "钢筋混凝土结构(框架)",
            "钢结构",
            "木（竹）结构",
            "砖木结构",
            "土木/石木结构",
            "石结构",
            "窑洞",
            "混杂结构",
            "其他",
        ],
    ),
    (
        kind::ZONE_TYPE,
        &[
            "城市建成区",
            "城乡结合部",
            "城中村",
            "拆迁安置区",
            "工业园区",
            "建制镇",
            "集镇",
            "学校周边",
            "医院周边",
            "商贸市场周边",
            "景区及周边",
            "其他",
        ],
    ),
    (kind::LAND_TYPE, &["国有土地", "集体土地"]),
    (kind::WALL_MATERIAL, &["红砖", "水泥砌块", "石块", "其他"]),
    (kind::FLOOR_SLAB, &["木楼板", "预制板", "现浇板"]),
    (kind::ROOF_TYPE, &["木屋盖", "预制板", "现浇板"]),
    (
        kind::DESIGN_MODE,
        &["有专业设计", "采用标准化图集", "无专业设计、未采用标准图集"],
    ),
    (
        kind::BUILDER_MODE,
        &["自行建造", "建筑工匠建造", "有资质的施工队伍建造"],
    ),
    (kind::SEISMIC_MEASURE, &["基础地圈梁", "构造柱", "圈梁"]),
    (
        kind::ALTERATION_TYPE,
        &[
            "楼顶加层",
            "周边扩建",
            "楼内建夹层",
            "室内加隔墙",
            "楼体抬高",
            "扩大门窗",
            "加建地下室",
            "减柱减隔墙",
            "其他",
        ],
    ),
    (
        kind::PERMIT,
        &[
            "建设用地规划许可证",
            "国有土地使用权证",
            "集体建设用地使用权证",
            "竣工验收手续",
            "消防竣工验收手续",
            "施工许可证",
            "宅基地批准书",
            "乡村建设规划许可证",
            "不动产登记证",
            "公共聚集场所营业前消防行政许可",
            "营业执照",
            "经营许可证",
        ],
    ),
    (
        kind::ILLEGAL_FLAG,
        &[
            "违法占地",
            "违法建设",
            "违法改扩建",
            "违规经营",
            "违法审批",
            "无行政许可手续",
        ],
    ),
    (
        kind::SURVEY_ROUND,
        &["攻坚行动首轮", "日常巡查", "汛期", "节前", "灾后", "其他"],
    ),
    (
        kind::GEOHAZARD,
        &[
            "切坡建房",
            "滑坡泥石流",
            "地下采空区",
            "洪涝",
            "山体崩塌",
            "地面沉降",
            "其他",
        ],
    ),
    (
        kind::HAZARD_CATEGORY,
        &[
            "地基基础",
            "上部承重结构",
            "改扩建",
            "使用安全（增加堆载、改变用途等）",
        ],
    ),
    (
        kind::HAZARD_PART,
        &["墙体", "梁柱", "地基", "屋面", "楼板", "其他"],
    ),
    (
        kind::FIRE_HAZARD,
        &[
            "消防车道严重堵塞",
            "疏散通道严重堵塞",
            "消防设施和器材缺失或破坏",
            "电路敷设不规范",
            "使用易燃可燃材料",
            "其他",
        ],
    ),
    (
        kind::APPRAISAL_STANDARD,
        &[
            "JGJ 125-2016",
            "农村住房安全性鉴定技术导则",
            "GB 50292-2015",
            "其他",
        ],
    ),
    (kind::OWNER_ROLE, &["产权人", "实际拥有人"]),
    (
        kind::NOTICE_METHOD,
        &["直接送达", "留置送达", "邮寄送达", "公告送达"],
    ),
    (
        kind::ENFORCEMENT,
        &["全部拆除", "部分拆除", "补办手续", "罚款", "没收", "其他"],
    ),
];

/// Default business type → supervising department (三管三必须), DOMAIN §4a.
pub const DEFAULT_SECTORS: &[(&str, &str)] = &[
    ("餐饮饭店", "商务"),
    ("住宿宾馆/民宿宾馆", "文旅"),
    ("批发零售", "商务"),
    ("休闲娱乐（文化娱乐）", "文旅"),
    ("教育培训（教育设施）", "教育"),
    ("医疗卫生", "卫健"),
    ("养老服务", "民政"),
    ("生产加工", "工信"),
    ("仓储物流", "商务"),
    ("出租居住", "公安"),
    ("其他", "住建"),
];

/// The county-level departments of the demo (code, name).
pub const DEFAULT_DEPARTMENTS: &[(&str, &str)] = &[
    ("住建", "县住房和城乡建设局"),
    ("教育", "县教育和体育局"),
    ("工信", "县工业和信息化局"),
    ("公安", "县公安局"),
    ("民政", "县民政局"),
    ("商务", "县商务局"),
    ("文旅", "县文化和旅游局"),
    ("卫健", "县卫生健康局"),
    ("市场监管", "县市场监督管理局"),
];

impl Default for Dictionaries {
    fn default() -> Self {
        Dictionaries {
            kinds: DEFAULTS
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
        }
    }
}

impl Dictionaries {
    pub fn allows(&self, kind: &str, value: &str) -> bool {
        self.kinds
            .get(kind)
            .is_some_and(|v| v.iter().any(|x| x == value))
    }

    pub fn values(&self, kind: &str) -> &[String] {
        self.kinds.get(kind).map(Vec::as_slice).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Coded;

    #[test]
    fn labels_round_trip_and_codes_are_accepted_too() {
        for g in Grade::ALL {
            assert_eq!(Grade::parse(g.label()), Some(*g));
            assert_eq!(Grade::parse(g.code()), Some(*g));
        }
        assert_eq!(
            MgmtMeasure::parse("刷墙勾缝"),
            Some(MgmtMeasure::WallPatching)
        );
        assert_eq!(EngMeasure::parse("刷墙勾缝"), None);
    }

    #[test]
    fn every_default_business_type_has_a_department() {
        let d = Dictionaries::default();
        for t in d.values(kind::BUSINESS_TYPE) {
            let dept = DEFAULT_SECTORS.iter().find(|(b, _)| b == t).map(|x| x.1);
            let dept = dept.unwrap_or_else(|| panic!("{t} has no department"));
            assert!(
                DEFAULT_DEPARTMENTS.iter().any(|(c, _)| *c == dept),
                "{dept}"
            );
        }
    }
}
