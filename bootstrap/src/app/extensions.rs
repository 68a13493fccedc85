//! The domain rules an enterprise team may replace without touching an
//! adapter: who gets which waiting conversation ([`RoutingRule`]) and what
//! a message may say ([`MessagePolicy`]). The `quickconnect` binary runs
//! the contract's defaults; a team's own binary passes its rules to
//! [`Application::build_with`](crate::Application::build_with).

use std::sync::Arc;

use qc_domain::{DefaultPolicy, FewestOpenFirst, MessagePolicy, RoutingRule};

/// The rules a node runs with.
#[derive(Clone)]
pub struct Extensions {
    /// Automatic assignment (`QC_ROUTING=auto`); unused in manual routing.
    pub routing_rule: Arc<dyn RoutingRule>,
    /// Every text and note passes it before it is stored.
    pub message_policy: Arc<dyn MessagePolicy>,
}

impl Default for Extensions {
    /// The contract's rules: [`FewestOpenFirst`] and [`DefaultPolicy`].
    fn default() -> Self {
        Self {
            routing_rule: Arc::new(FewestOpenFirst),
            message_policy: Arc::new(DefaultPolicy::new()),
        }
    }
}

impl Extensions {
    /// These rules with `policy` for messages.
    #[must_use]
    pub fn with_message_policy(mut self, policy: impl MessagePolicy + 'static) -> Self {
        self.message_policy = Arc::new(policy);
        self
    }

    /// These rules with `rule` for automatic assignment.
    #[must_use]
    pub fn with_routing_rule(mut self, rule: impl RoutingRule + 'static) -> Self {
        self.routing_rule = Arc::new(rule);
        self
    }
}
