//! A ULID as an OpenAPI type (`string`, `format: ulid`); a malformed one in a
//! path or query is a 400.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde_json::Value;
use ulid::Ulid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UlidParam(pub Ulid);

fn parse(s: &str) -> Result<Ulid, String> {
    if s.len() != ulid::ULID_LEN {
        return Err("expected a 26-character ULID".into());
    }
    Ulid::from_string(s).map_err(|_| "expected a ULID".to_owned())
}

impl Type for UlidParam {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_ulid".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let mut schema = MetaSchema::new_with_format("string", "ulid");
        schema.pattern = Some("^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$".into());
        MetaSchemaRef::Inline(Box::new(schema))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for UlidParam {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => parse(&s).map(Self).map_err(ParseError::custom),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ParseFromParameter for UlidParam {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        parse(value).map(Self).map_err(ParseError::custom)
    }
}

impl ToJSON for UlidParam {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.to_string()))
    }
}
