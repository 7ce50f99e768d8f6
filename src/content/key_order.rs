//! The order in which a JSON file declares the keys of each object.
//! Documents and schemas are held in sorted maps, but editors should see a
//! schema's fields in the order its author wrote them.

use std::collections::HashMap;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::schema::escape_pointer;

/// Object keys in file order, by the JSON pointer of their object.
#[derive(Clone, Debug, Default)]
pub struct KeyOrder(HashMap<String, Vec<String>>);

impl KeyOrder {
    pub fn of_json(text: &str) -> Result<KeyOrder, serde_json::Error> {
        let mut order = HashMap::new();
        let mut deserializer = serde_json::Deserializer::from_str(text);
        Walk { at: String::new(), order: &mut order }.deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(KeyOrder(order))
    }

    /// The keys of the object at `pointer`, in file order.
    pub fn keys(&self, pointer: &str) -> Option<&[String]> {
        self.0.get(pointer).map(Vec::as_slice)
    }

    /// Where `key` comes among the keys of the object at `pointer`; keys
    /// not found come last.
    pub fn position(&self, pointer: &str, key: &str) -> usize {
        self.keys(pointer).and_then(|keys| keys.iter().position(|k| k == key)).unwrap_or(usize::MAX)
    }
}

struct Walk<'o> {
    at: String,
    order: &'o mut HashMap<String, Vec<String>>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value_seed(Walk { at: format!("{}/{}", self.at, escape_pointer(&key)), order: &mut *self.order })?;
            keys.push(key);
        }
        self.order.insert(self.at, keys);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq.next_element_seed(Walk { at: format!("{}/{index}", self.at), order: &mut *self.order })?.is_some() {
            index += 1;
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::KeyOrder;

    #[test]
    fn keeps_the_order_of_every_object() {
        let order = KeyOrder::of_json(r#"{"z": 1, "a": {"y": [ {"q": 1, "b": 2} ], "x": null}, "m~/": "s"}"#).unwrap();
        assert_eq!(order.keys(""), Some(&["z".to_owned(), "a".to_owned(), "m~/".to_owned()][..]));
        assert_eq!(order.keys("/a"), Some(&["y".to_owned(), "x".to_owned()][..]));
        assert_eq!(order.keys("/a/y/0"), Some(&["q".to_owned(), "b".to_owned()][..]));
        assert_eq!(order.position("/a", "x"), 1);
        assert_eq!(order.position("/a", "w"), usize::MAX);
        assert!(KeyOrder::of_json("{\"a\": 1} trailing").is_err());
    }
}
