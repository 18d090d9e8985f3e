//! The sample bucket compiled into the binary: the default source.

include!(concat!(env!("OUT_DIR"), "/sample_feeds.rs"));

/// The `--source` value that selects it.
pub const NAME: &str = "sample";

/// The bundled sample feeds as a source.
pub fn source() -> sdds_source::EmbeddedSource {
    sdds_source::EmbeddedSource::new(
        "sample (bundled sample-feeds)",
        SAMPLE_FEEDS.iter().copied(),
    )
}
