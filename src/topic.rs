//! Validation of topic names and filters, done before anything connects.
//!
//! MQTT topic names (publishing) may not contain the wildcards `+` and `#`; filters
//! (subscribing) may, but only as whole levels, with `#` last. Kafka topic names are limited
//! to ASCII letters, digits, `.`, `_` and `-`, at most 249 characters. Brokers would refuse
//! all of these too, but later and less clearly (an MQTT broker simply disconnects).

/// Why a topic was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TopicError {
    #[error("topic is empty")]
    Empty,
    #[error("topic '{0}' contains a wildcard (+ or #), which only subscriptions may use")]
    Wildcard(String),
    #[error("filter '{0}' uses a wildcard inside a level: + and # must stand alone, # last")]
    BadFilter(String),
    #[error("topic contains a NUL character")]
    Nul,
    #[error("topic is longer than 65535 bytes")]
    TooLong,
    #[error("kafka topic '{0}' is not a legal name (letters, digits, '.', '_', '-'; 1 to 249)")]
    Kafka(String),
}

/// Checks an MQTT topic name that will be published to.
pub fn mqtt_topic(topic: &str) -> Result<(), TopicError> {
    mqtt_common(topic)?;
    if topic.contains(['+', '#']) {
        return Err(TopicError::Wildcard(topic.into()));
    }
    Ok(())
}

/// Checks an MQTT topic filter that will be subscribed to.
pub fn mqtt_filter(filter: &str) -> Result<(), TopicError> {
    mqtt_common(filter)?;
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        let lone = level.len() == 1;
        let bad_plus = level.contains('+') && !lone;
        let bad_hash = level.contains('#') && (!lone || i + 1 != levels.len());
        if bad_plus || bad_hash {
            return Err(TopicError::BadFilter(filter.into()));
        }
    }
    Ok(())
}

/// Whether `topic` matches the subscription `filter` (a valid one), by MQTT's rules: `+` is one
/// level, `#` the rest (the parent level included), a filter starting with a wildcard does
/// not match topics starting with `$`, and a shared subscription matches by its filter.
pub fn matches(filter: &str, topic: &str) -> bool {
    // An MQTT 5 shared subscription, `$share/GROUP/FILTER`, matches what FILTER matches.
    let filter = match filter
        .strip_prefix("$share/")
        .and_then(|rest| rest.split_once('/'))
    {
        Some((_group, shared)) => shared,
        None => filter,
    };
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut levels = topic.split('/');
    for pattern in filter.split('/') {
        match (pattern, levels.next()) {
            ("#", _) => return true,
            ("+", Some(_)) => {}
            (pattern, Some(level)) if pattern == level => {}
            _ => return false,
        }
    }
    levels.next().is_none()
}

/// Checks a Kafka topic name.
pub fn kafka_topic(topic: &str) -> Result<(), TopicError> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    if topic.len() > 249 || !topic.chars().all(legal) || topic == "." || topic == ".." {
        return Err(TopicError::Kafka(topic.into()));
    }
    Ok(())
}

fn mqtt_common(topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    if topic.contains('\0') {
        return Err(TopicError::Nul);
    }
    if topic.len() > usize::from(u16::MAX) {
        return Err(TopicError::TooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_topics_refuse_wildcards() {
        assert!(mqtt_topic("sensors/a/b").is_ok());
        assert!(mqtt_topic("/").is_ok());
        assert_eq!(mqtt_topic("a/+"), Err(TopicError::Wildcard("a/+".into())));
        assert_eq!(mqtt_topic("#"), Err(TopicError::Wildcard("#".into())));
        assert_eq!(mqtt_topic(""), Err(TopicError::Empty));
    }

    #[test]
    fn filters_take_wildcards_only_as_whole_levels() {
        for ok in ["#", "+", "a/+/b", "a/#", "+/+", "sensors"] {
            assert!(mqtt_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["a#", "a/#/b", "a+/b", "#/a"] {
            assert!(mqtt_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn filters_match_topics_by_level() {
        let yes = [
            ("#", "a/b"),
            ("a/#", "a"),
            ("a/#", "a/b/c"),
            ("a/+/c", "a/b/c"),
            ("+", ""),
            ("a/+", "a/"),
            ("/+", "/x"),
            ("$SYS/#", "$SYS/broker"),
            ("$share/g/a/#", "a/b"),
            ("$share/g/+", "x"),
        ];
        for (filter, topic) in yes {
            assert!(matches(filter, topic), "{filter} should match {topic}");
        }
        let no = [
            ("a/+", "a"),
            ("a/+", "a/b/c"),
            ("a/b", "a/b/c"),
            ("a", "A"),
            ("+/x", "$SYS/x"),
            ("#", "$SYS/x"),
            ("a/+/c", "a/b/d"),
            ("$share/g/a/#", "b/a"),
            ("$share/g/#", "$SYS/x"),
        ];
        for (filter, topic) in no {
            assert!(!matches(filter, topic), "{filter} should not match {topic}");
        }
    }

    #[test]
    fn kafka_names_follow_kafka_rules() {
        assert!(kafka_topic("sensors.v1_a-b").is_ok());
        assert!(kafka_topic("a/b").is_err());
        assert!(kafka_topic("..").is_err());
        assert!(kafka_topic(&"x".repeat(250)).is_err());
        assert_eq!(kafka_topic(""), Err(TopicError::Empty));
    }
}
