//! Redaction for journald output. `tracing-journald` sends each event's fields natively over
//! the journal socket and takes no writer to wrap, so [`Redacted`] sits in front of it as a
//! layer: it renders the fields of each event (and of each span, whose fields the journal
//! layer copies onto every event inside it) as the journal layer would, and when the redactor
//! in force changes one of them, hands the layer the same event rebuilt from the redacted
//! texts. An event without a secret is passed on as it is.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tracing::field::{Field, Value, ValueSet, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::redact::Redactor;

/// `inner` (the journald layer), fed redacted fields.
pub(super) struct Redacted<L> {
    pub inner: L,
    /// The log's redactor cell (`logging`'s `Secrets`), spelled out so that this file needs
    /// nothing of its parent.
    pub secrets: Arc<ArcSwap<Redactor>>,
}

/// Each recorded field as text, as the journal layer writes it: a string as it is, anything
/// else in its `Debug` form (which for a `%value` is its `Display`).
#[derive(Default)]
struct Texts(Vec<(Field, String)>);

impl Visit for Texts {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.clone(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.clone(), format!("{value:?}")));
    }
}

impl<L> Redacted<L> {
    /// The fields `record` visits, redacted; `None` when no secret was in any of them.
    fn redacted(&self, record: impl FnOnce(&mut Texts)) -> Option<Vec<(Field, String)>> {
        let redactor = self.secrets.load();
        if redactor.is_empty() {
            return None;
        }
        let mut texts = Texts::default();
        record(&mut texts);
        let mut changed = false;
        for (_, text) in &mut texts.0 {
            if let Cow::Owned(clean) = redactor.redact(text) {
                *text = clean;
                changed = true;
            }
        }
        changed.then_some(texts.0)
    }
}

/// Calls `f` with a value set of `meta`'s callsite holding `values` (fields of that callsite).
/// A value set is built from an array of fixed length, hence one arm per length; no event of
/// ours has more than a dozen fields, and past 32 only the first 32 are kept.
fn with_values<R>(
    meta: &'static Metadata<'static>,
    values: &[(Field, String)],
    f: impl FnOnce(&ValueSet<'_>) -> R,
) -> R {
    macro_rules! arities {
        ($($n:literal)*) => {
            match values.len() {
                $($n => {
                    let arr: [(&Field, Option<&dyn Value>); $n] =
                        std::array::from_fn(|i| (&values[i].0, Some(&values[i].1 as &dyn Value)));
                    f(&meta.fields().value_set(&arr))
                })*
                _ => {
                    let arr: [(&Field, Option<&dyn Value>); 32] =
                        std::array::from_fn(|i| (&values[i].0, Some(&values[i].1 as &dyn Value)));
                    f(&meta.fields().value_set(&arr))
                }
            }
        };
    }
    arities!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31)
}

// The journal layer implements `on_new_span`, `on_record` and `on_event` only; the other
// methods keep their defaults there, and so here.
impl<S, L> Layer<S> for Redacted<L>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Layer<S>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        match self.redacted(|t| attrs.record(t)) {
            None => self.inner.on_new_span(attrs, id, ctx),
            Some(values) => with_values(attrs.metadata(), &values, |vs| {
                self.inner
                    .on_new_span(&Attributes::new(attrs.metadata(), vs), id, ctx)
            }),
        }
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(meta) = ctx.metadata(span) else {
            return self.inner.on_record(span, values, ctx);
        };
        match self.redacted(|t| values.record(t)) {
            None => self.inner.on_record(span, values, ctx),
            Some(clean) => with_values(meta, &clean, |vs| {
                self.inner.on_record(span, &Record::new(vs), ctx)
            }),
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        match self.redacted(|t| event.record(t)) {
            None => self.inner.on_event(event, ctx),
            Some(values) => {
                let meta = event.metadata();
                with_values(meta, &values, |vs| {
                    let clean = if event.is_contextual() {
                        Event::new(meta, vs)
                    } else {
                        Event::new_child_of(event.parent().cloned(), meta, vs)
                    };
                    self.inner.on_event(&clean, ctx)
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use arc_swap::ArcSwap;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::redact::Redactor;

    /// Records every span and event field it sees, as `name=text`.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<String>>>);

    impl Visit for Seen {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{}={value:?}", field.name()));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{}={value}", field.name()));
        }
    }

    impl<S: Subscriber> Layer<S> for Seen {
        fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
            attrs.record(&mut self.clone());
        }
        fn on_record(&self, _: &Id, values: &Record<'_>, _: Context<'_, S>) {
            values.record(&mut self.clone());
        }
        fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
            event.record(&mut self.clone());
        }
    }

    #[test]
    fn fields_of_events_and_spans_reach_the_journal_layer_redacted() {
        let token = "sk-live-0123456789abcdefghij";
        let seen = Seen::default();
        let secrets: Arc<ArcSwap<Redactor>> =
            Arc::new(ArcSwap::from_pointee(Redactor::new([token])));
        let layer = Redacted {
            inner: seen.clone(),
            secrets,
        };
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", model = %format!("m {token}"), upstream = tracing::field::Empty);
            let _e = span.enter();
            span.record("upstream", format!("u {token}").as_str());
            tracing::warn!(status = 401, message = %format!("Incorrect API key provided: {token}"), "Upstream refused the request");
            tracing::info!(status = 200, "clean");
        });
        let seen = seen.0.lock().unwrap().clone();
        assert!(!seen.iter().any(|s| s.contains(&token[..12])), "{seen:?}");
        for want in [
            "model=m ***",
            "upstream=u ***",
            "message=Incorrect API key provided: ***",
            "status=401",
            "message=Upstream refused the request",
            "message=clean",
        ] {
            assert!(seen.iter().any(|s| s == want), "{want} in {seen:?}");
        }
    }
}
