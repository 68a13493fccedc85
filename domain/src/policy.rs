//! What a message may say: the extension point for content rules.
//!
//! Every text and note passes one [`MessagePolicy`] before it is stored.
//! The default, [`DefaultPolicy`], is the contract's (§3): not empty after
//! trimming, at most [`MAX_CONTENT_CHARS`] characters. An enterprise team
//! plugs in its own at bootstrap (`quickconnect::App::with_message_policy`),
//! to narrow the rules (block card numbers) or widen them (a longer limit
//! for agents); docs/architecture.md has the worked example,
//! [`NoCardNumbers`], whose test is in this module's tests.
//!
//! A policy runs on the hot path, once per message, on the connection's
//! task: it must not block or wait (no network call; load word lists at
//! start-up).

use std::borrow::Cow;

use crate::message::{MAX_CONTENT_CHARS, MessageKind};
use crate::role::{Side, User};

/// Why content was refused. Every variant is answered with the contract's
/// `invalid_content` and the variant's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    #[error("content is empty")]
    Empty,
    #[error("content is longer than {limit} characters")]
    TooLong { limit: usize },
    /// A rule of a policy of one's own; the text says which, in words the
    /// sender may read.
    #[error("{0}")]
    Refused(Cow<'static, str>),
}

/// Decides whether a message may be stored.
pub trait MessagePolicy: Send + Sync {
    /// Checks `content`, which `sender` wants to post as a message of
    /// `kind`. Whether the side may write the kind at all (a customer
    /// writing a note) is the domain's rule, checked before.
    ///
    /// # Errors
    /// [`ContentError`]: the message is not stored and the sender is told.
    fn check(&self, sender: &User, kind: MessageKind, content: &str) -> Result<(), ContentError>;
}

/// The contract's rule: something after trimming, at most `limit`
/// characters (Unicode scalar values), [`MAX_CONTENT_CHARS`] by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultPolicy {
    limit: usize,
}

impl DefaultPolicy {
    pub const fn new() -> Self {
        Self::with_limit(MAX_CONTENT_CHARS)
    }

    /// The same rule with another length limit.
    pub const fn with_limit(limit: usize) -> Self {
        Self { limit }
    }

    pub const fn limit(&self) -> usize {
        self.limit
    }
}

impl Default for DefaultPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl DefaultPolicy {
    /// The rule on the text alone (it depends on nobody's side or kind).
    ///
    /// # Errors
    /// `Empty` or `TooLong`.
    pub fn check_text(&self, content: &str) -> Result<(), ContentError> {
        if content.trim().is_empty() {
            return Err(ContentError::Empty);
        }
        // Count lazily: stop as soon as the limit is passed.
        if content.chars().nth(self.limit).is_some() {
            return Err(ContentError::TooLong { limit: self.limit });
        }
        Ok(())
    }
}

impl MessagePolicy for DefaultPolicy {
    fn check(&self, _: &User, _: MessageKind, content: &str) -> Result<(), ContentError> {
        self.check_text(content)
    }
}

/// The worked example of docs/architecture.md: customers may not post
/// what looks like a payment card number (13 to 19 digits, spaces or
/// dashes between, passing the Luhn check), so that none is stored in a
/// transcript; agents may write up to `agent_limit` characters (long
/// answers, pasted instructions). Everything else is `base`'s rule.
#[derive(Debug, Clone)]
pub struct NoCardNumbers<P> {
    base: P,
    agent_limit: usize,
}

impl<P: MessagePolicy> NoCardNumbers<P> {
    pub const fn new(base: P, agent_limit: usize) -> Self {
        Self { base, agent_limit }
    }
}

impl<P: MessagePolicy> MessagePolicy for NoCardNumbers<P> {
    fn check(&self, sender: &User, kind: MessageKind, content: &str) -> Result<(), ContentError> {
        if sender.side() == Side::Agent {
            return DefaultPolicy::with_limit(self.agent_limit).check_text(content);
        }
        self.base.check(sender, kind, content)?;
        if contains_card_number(content) {
            return Err(ContentError::Refused(
                "content looks like a payment card number; never send card details in chat".into(),
            ));
        }
        Ok(())
    }
}

/// Whether `text` holds a number of 13 to 19 digits (single spaces or
/// dashes between them allowed) that passes the Luhn check.
fn contains_card_number(text: &str) -> bool {
    let mut digits: Vec<u32> = Vec::with_capacity(19);
    let mut after_separator = false;
    for c in text.chars().chain(std::iter::once('.')) {
        match c {
            '0'..='9' => {
                digits.push(c as u32 - '0' as u32);
                after_separator = false;
            }
            ' ' | '-' if !digits.is_empty() && !after_separator => after_separator = true,
            _ => {
                if (13..=19).contains(&digits.len()) && luhn(&digits) {
                    return true;
                }
                digits.clear();
                after_separator = false;
            }
        }
    }
    false
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests;
