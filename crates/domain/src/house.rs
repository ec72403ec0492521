//! The house record (一房一档) in the national platform's blocks: 房屋基本情况 and 建设/管理情况 here;
//! 排查情况 and 整治情况 are lifecycle events. Personal data sits apart in [`People`].

use crate::codes::{OwnerId, PhoneNumber, RegionCode, RegionLevel};
use crate::dict::{Dictionaries, UsageCategory, kind};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// 房屋基本情况 + 建设情况 + 管理情况, without personal data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HouseRecord {
    /// 自建房编号（归集平台）, usually `YH` + 15 digits; other shapes are kept as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_code: Option<String>,
    /// 普查房屋编号.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub census_id: Option<String>,
    /// 房屋建筑统一编码 (JGJ/T 496), opaque.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unified_code: Option<String>,
    pub town: RegionCode,
    pub village: RegionCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub road: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub door_no: Option<String>,
    /// 房屋地址.
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    pub usage: UsageCategory,
    /// 经营类型, dictionary `business_type`; empty for non-business houses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub business_types: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub occupants_over_10: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub land_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub land_use_subtype: Option<String>,
    pub floors_above: u8,
    pub floors_below: u8,
    /// 建筑面积（㎡）, two decimals.
    pub floor_area_m2: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_year: Option<u16>,
    pub structure_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_material: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_slab: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roof_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_plaque_installed_on: Option<NaiveDate>,
    pub construction: Construction,
}

/// 建设情况 + 管理情况.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Construction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub design_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seismic_measures: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_altered: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alteration_types: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub main_structure_changed: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_decorated: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permits_held: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub illegal_flags: Vec<String>,
}

/// Owner, user and responsible persons. Kept apart from the record so storage can protect it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct People {
    /// 产权人（户主）.
    pub owner_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<OwnerId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_phone: Option<PhoneNumber>,
    /// 产权人类型: 产权人 / 实际拥有人.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_phone: Option<PhoneNumber>,
    /// 房屋安全责任人.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_person: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_phone: Option<PhoneNumber>,
    /// 安全监管责任人（网格员/包保干部）.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor_phone: Option<PhoneNumber>,
}

impl HouseRecord {
    pub fn is_business(&self) -> bool {
        self.usage.is_business()
    }

    /// Field checks that need no database nor the day: each message names the field in
    /// Chinese. The plausible bounds of its numbers and dates, which depend on the day it is
    /// recorded, are [`crate::bounds::implausible`]'s.
    pub fn check(&self, dict: &Dictionaries) -> Result<(), String> {
        if self.village.level() != RegionLevel::Village {
            return Err("所在村（社区）须为 12 位村级区划代码".into());
        }
        if self.town.level() != RegionLevel::Town || self.village.town() != self.town {
            return Err(format!(
                "村（社区）{} 不属于镇街 {}",
                self.village, self.town
            ));
        }
        if self.address.trim().is_empty() {
            return Err("房屋地址不能为空".into());
        }
        if self.is_business() && self.business_types.is_empty() {
            return Err("经营性自建房须填写经营类型".into());
        }
        if !self.is_business() && !self.business_types.is_empty() {
            return Err("非经营性自建房不应填写经营类型".into());
        }
        let one = |k: &str, label: &str, v: &Option<String>| match v {
            Some(v) if !dict.allows(k, v) => Err(format!("{label}“{v}”不在字典中")),
            _ => Ok(()),
        };
        let many = |k: &str, label: &str, v: &[String]| match v.iter().find(|x| !dict.allows(k, x))
        {
            Some(x) => Err(format!("{label}“{x}”不在字典中")),
            None => Ok(()),
        };
        many(kind::BUSINESS_TYPE, "经营类型", &self.business_types)?;
        one(
            kind::STRUCTURE_TYPE,
            "结构类型",
            &Some(self.structure_type.clone()),
        )?;
        one(kind::ZONE_TYPE, "所在区域", &self.zone_type)?;
        one(kind::LAND_TYPE, "土地性质", &self.land_type)?;
        one(kind::WALL_MATERIAL, "墙体材料", &self.wall_material)?;
        one(kind::FLOOR_SLAB, "楼板", &self.floor_slab)?;
        one(kind::ROOF_TYPE, "屋盖", &self.roof_type)?;
        let c = &self.construction;
        one(kind::DESIGN_MODE, "设计方式", &c.design_mode)?;
        one(kind::BUILDER_MODE, "施工方式", &c.builder_mode)?;
        many(kind::SEISMIC_MEASURE, "抗震构造措施", &c.seismic_measures)?;
        many(kind::ALTERATION_TYPE, "改扩建内容", &c.alteration_types)?;
        many(kind::PERMIT, "行政许可", &c.permits_held)?;
        many(kind::ILLEGAL_FLAG, "违法违规情况", &c.illegal_flags)?;
        if !c.is_altered && !c.alteration_types.is_empty() {
            return Err("未改扩建的房屋不应填写改扩建内容".into());
        }
        Ok(())
    }
}

impl People {
    pub fn check(&self, dict: &Dictionaries) -> Result<(), String> {
        let name = self.owner_name.trim();
        if name.is_empty() || name == "不详" || name == "无" {
            return Err("产权人（户主）须填写真实姓名或单位名称，不能为空或“不详”".into());
        }
        if let Some(r) = &self.owner_role
            && !dict.allows(kind::OWNER_ROLE, r)
        {
            return Err(format!("产权人类型“{r}”不在字典中"));
        }
        Ok(())
    }
}
