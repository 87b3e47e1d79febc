//! A serde serializer that writes block-style YAML straight into a string,
//! in serde-saphyr's layout, for the shapes Kubernetes objects have.
//!
//! serde-saphyr decides how every scalar must be written for a YAML 1.1
//! reader (see the parent module); that is the part that needs care, and it
//! stays serde-saphyr's: a string is written here as it stands only when it
//! passes [`plain`], a test narrow enough that no YAML reader can take it
//! for anything but that string, and otherwise serde-saphyr renders it
//! alone. What is written here is the layout around the scalars, which is
//! fixed: two spaces per level of mapping, a sequence under a key at the
//! key's own indentation (`compact_list_indent`), a mapping that is a
//! sequence item starting on the item's line, `{}` and `[]` for empty
//! collections. A large mesh renders tens of thousands of objects, and
//! doing that through serde-saphyr's general emitter took about five times
//! the instructions.
//!
//! The same writer, with [`Quoting::GoYamlV2`], writes `mesh.yaml` as
//! `istioctl` does: its strings follow go-yaml v2's rules
//! ([`super::go_yaml`]) instead of serde-saphyr's, around the same layout.
//!
//! The Kubernetes emitter's test `block_writer_agrees_with_serde_saphyr`
//! holds the two to the same bytes on every object of every example and of
//! two synthetic meshes; the property tests of the parent module do the same
//! on random trees of hostile scalars.

use std::fmt::{self, Display, Write as _};

use serde::ser::{self, Serialize};

/// Why an object could not be written.
#[derive(Debug)]
pub struct Error(String);

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

type Result<T = ()> = std::result::Result<T, Error>;

/// How strings (values and keys) are written; the layout is the same.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Quoting {
    /// serde-saphyr's choices, for Kubernetes objects and values files:
    /// plain when [`plain`], otherwise as serde-saphyr writes the string.
    SerdeSaphyr,
    /// go-yaml v2's choices as `istioctl` writes them
    /// ([`super::go_yaml::scalar`]), for mesh.yaml.
    GoYamlV2,
}

/// Appends `value` to `out` as one YAML document (no `---`), ending in a
/// newline, its strings written by `quoting`. On error `out` may hold part
/// of the document.
pub fn write<T: Serialize + ?Sized>(out: &mut String, value: &T, quoting: Quoting) -> Result {
    value.serialize(Value {
        out,
        indent: 0,
        at: At::Top,
        quoting,
    })
}

/// True when `s` can be written as a plain scalar and read back by any YAML
/// reader, 1.1 or 1.2, as exactly this string: it starts with a letter, holds
/// only letters, digits and `-._/*`, and is none of the words YAML 1.1
/// reads as a boolean or null (nor `nan`/`inf`, for good measure). No
/// indicator, no space, no quote, no colon, nothing a number or a date
/// could start with.
pub fn plain(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some(first) = bytes.first() else {
        return false;
    };
    first.is_ascii_alphabetic()
        && bytes.iter().all(|&b| PLAIN_BYTES[usize::from(b)])
        && !(s.len() <= 5
            && [
                "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf",
            ]
            .iter()
            .any(|word| s.eq_ignore_ascii_case(word)))
}

/// The bytes [`plain`] allows after the first: ASCII letters, digits and
/// `-._/*`.
const PLAIN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'/' | b'*');
        b += 1;
    }
    table
};

/// A string as a value: by go-yaml v2's rules, or plain when [`plain`],
/// otherwise as serde-saphyr writes it.
fn write_str(out: &mut String, s: &str, quoting: Quoting) -> Result {
    if quoting == Quoting::GoYamlV2 {
        out.push_str(&super::go_yaml::scalar(s));
        return Ok(());
    }
    if plain(s) {
        out.push_str(s);
        return Ok(());
    }
    let text = serde_saphyr::to_string_with_options(&s, super::options()).map_err(ser::Error::custom)?;
    match text.strip_suffix('\n') {
        Some(scalar) if !scalar.contains('\n') => {
            out.push_str(scalar);
            Ok(())
        }
        _ => Err(Error(format!("a string renders on several lines: {text:?}"))),
    }
}

/// A string as a mapping key: by go-yaml v2's rules (the same as for
/// values), or plain when [`plain`], otherwise as serde-saphyr writes it as
/// a key.
fn write_key(out: &mut String, key: &str, quoting: Quoting) -> Result {
    if quoting == Quoting::GoYamlV2 {
        out.push_str(&super::go_yaml::scalar(key));
        return Ok(());
    }
    if plain(key) {
        out.push_str(key);
        return Ok(());
    }
    let map = std::collections::BTreeMap::from([(key, 0u8)]);
    let text = serde_saphyr::to_string_with_options(&map, super::options()).map_err(ser::Error::custom)?;
    match text.strip_suffix(": 0\n") {
        Some(scalar) if !scalar.contains('\n') => {
            out.push_str(scalar);
            Ok(())
        }
        _ => Err(Error(format!("a key renders on several lines: {text:?}"))),
    }
}

/// `n` spaces, a slice of a line of them at a time: pushed one `char` at
/// a time they cost a capacity check and an encoding each, and a large mesh
/// writes millions of them.
fn indent(out: &mut String, n: usize) {
    const SPACES: &str = "                                ";
    let mut left = n;
    while left > 0 {
        let now = left.min(SPACES.len());
        out.push_str(&SPACES[..now]);
        left -= now;
    }
}

/// Where a value is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    /// A whole document.
    Top,
    /// After `key:`, on the key's line.
    MapValue,
    /// After `- `.
    SeqItem,
}

/// How a collection's first entry is placed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lead {
    /// On a new line (the collection is a mapping's value).
    Newline,
    /// Where the writer stands (a whole document, or a sequence item).
    Inline,
}

/// Serializes one value. `indent` is the indentation of the entries of the
/// collection the value belongs to.
struct Value<'o> {
    out: &'o mut String,
    indent: usize,
    at: At,
    quoting: Quoting,
}

impl<'o> Value<'o> {
    fn scalar(self, write: impl FnOnce(&mut String) -> Result) -> Result {
        if self.at == At::MapValue {
            self.out.push(' ');
        }
        write(self.out)?;
        self.out.push('\n');
        Ok(())
    }

    fn display(self, v: impl Display) -> Result {
        self.scalar(|out| write!(out, "{v}").map_err(ser::Error::custom))
    }

    /// The mapping this value is, with its entries' indentation.
    fn map(self) -> Block<'o> {
        let (indent, lead) = match self.at {
            At::Top => (0, Lead::Inline),
            At::MapValue => (self.indent + 2, Lead::Newline),
            At::SeqItem => (self.indent + 2, Lead::Inline),
        };
        Block::new(self.out, indent, lead, "{}", self.quoting)
    }

    /// The sequence this value is: under a key, at the key's indentation.
    fn seq(self) -> Block<'o> {
        let (indent, lead) = match self.at {
            At::Top => (0, Lead::Inline),
            At::MapValue => (self.indent, Lead::Newline),
            At::SeqItem => (self.indent + 2, Lead::Inline),
        };
        Block::new(self.out, indent, lead, "[]", self.quoting)
    }

    /// Writes `variant:` and returns the place of its value, as serde's
    /// externally tagged enums are written (`{variant: value}`).
    fn tagged(self, variant: &str) -> Result<Value<'o>> {
        let mut block = self.map();
        block.key(variant)?;
        // The mapping has its one entry, so it needs no end.
        Ok(Value {
            out: block.out,
            indent: block.indent,
            at: At::MapValue,
            quoting: block.quoting,
        })
    }
}

/// A mapping or a sequence being written.
struct Block<'o> {
    out: &'o mut String,
    indent: usize,
    lead: Lead,
    /// How the collection is written when it turns out empty.
    empty: &'static str,
    entries: usize,
    quoting: Quoting,
}

impl<'o> Block<'o> {
    fn new(out: &'o mut String, indent: usize, lead: Lead, empty: &'static str, quoting: Quoting) -> Self {
        Block {
            out,
            indent,
            lead,
            empty,
            entries: 0,
            quoting,
        }
    }

    /// Places the writer where the next entry starts.
    fn next_entry(&mut self) {
        match (self.entries, self.lead) {
            (0, Lead::Inline) => {}
            (0, Lead::Newline) => {
                self.out.push('\n');
                indent(self.out, self.indent);
            }
            _ => indent(self.out, self.indent),
        }
        self.entries += 1;
    }

    fn key(&mut self, key: &str) -> Result {
        self.next_entry();
        write_key(self.out, key, self.quoting)?;
        self.out.push(':');
        Ok(())
    }

    fn map_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        value.serialize(Value {
            out: self.out,
            indent: self.indent,
            at: At::MapValue,
            quoting: self.quoting,
        })
    }

    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.next_entry();
        self.out.push_str("- ");
        value.serialize(Value {
            out: self.out,
            indent: self.indent,
            at: At::SeqItem,
            quoting: self.quoting,
        })
    }

    fn end(self) -> Result {
        if self.entries == 0 {
            if self.lead == Lead::Newline {
                self.out.push(' ');
            }
            self.out.push_str(self.empty);
            self.out.push('\n');
        }
        Ok(())
    }
}

/// `serialize_<type>` methods for scalars written as their `Display` text:
/// booleans and integers, whose text YAML reads back as the same value.
macro_rules! written_as_text {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method(self, v: $ty) -> Result {
            self.display(v)
        }
    )*};
}

/// `serialize_<type>` methods of a key serializer that takes strings only.
macro_rules! refused_as_keys {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method(self, _: $ty) -> Result {
            not_a_key()
        }
    )*};
}

impl<'o> ser::Serializer for Value<'o> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Block<'o>;
    type SerializeTuple = Block<'o>;
    type SerializeTupleStruct = Block<'o>;
    type SerializeTupleVariant = Block<'o>;
    type SerializeMap = Block<'o>;
    type SerializeStruct = Block<'o>;
    type SerializeStructVariant = Block<'o>;

    written_as_text!(
        serialize_bool: bool,
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64
    );
    fn serialize_f32(self, v: f32) -> Result {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result {
        // Floats have spellings of their own in YAML (.nan, .inf, exponents);
        // the objects meshc writes hold none, so this path only has to be
        // right, not fast.
        let text = serde_saphyr::to_string_with_options(&v, super::options()).map_err(ser::Error::custom)?;
        self.scalar(|out| {
            out.push_str(text.trim_end_matches('\n'));
            Ok(())
        })
    }
    fn serialize_char(self, v: char) -> Result {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result {
        let quoting = self.quoting;
        self.scalar(|out| write_str(out, v, quoting))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result {
        use ser::SerializeSeq as _;
        let mut seq = self.seq();
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }
    fn serialize_none(self) -> Result {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        self.scalar(|out| {
            out.push_str("null");
            Ok(())
        })
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        value.serialize(self.tagged(variant)?)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Block<'o>> {
        Ok(self.seq())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Block<'o>> {
        Ok(self.seq())
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Block<'o>> {
        Ok(self.seq())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Block<'o>> {
        Ok(self.tagged(variant)?.seq())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Block<'o>> {
        Ok(self.map())
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Block<'o>> {
        Ok(self.map())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Block<'o>> {
        Ok(self.tagged(variant)?.map())
    }
}

macro_rules! sequence {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Block<'_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
                self.item(value)
            }
            fn end(self) -> Result {
                Block::end(self)
            }
        }
    )*};
}

sequence!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Block<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        let mut text = String::new();
        key.serialize(Key(&mut text))?;
        self.key(&text)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.map_value(value)
    }
    fn end(self) -> Result {
        Block::end(self)
    }
}

macro_rules! record {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Block<'_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
                self.key(key)?;
                self.map_value(value)
            }
            fn end(self) -> Result {
                Block::end(self)
            }
        }
    )*};
}

record!(SerializeStruct, SerializeStructVariant);

/// A mapping key, which must be a string: the objects meshc writes have no
/// other keys, and a number or boolean key would need YAML rules of its own.
struct Key<'a>(&'a mut String);

fn not_a_key<T>() -> Result<T> {
    Err(Error("a mapping key must be a string".to_owned()))
}

impl ser::Serializer for Key<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    refused_as_keys!(
        serialize_bool: bool,
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_f32: f32,
        serialize_f64: f64
    );
    fn serialize_char(self, v: char) -> Result {
        self.0.push(v);
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result {
        self.0.push_str(v);
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result {
        not_a_key()
    }
    fn serialize_none(self) -> Result {
        not_a_key()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        not_a_key()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result {
        not_a_key()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result {
        not_a_key()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        not_a_key()
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        not_a_key()
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct> {
        not_a_key()
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        not_a_key()
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        not_a_key()
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        not_a_key()
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        not_a_key()
    }
}
