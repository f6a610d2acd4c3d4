//! Initial access: sign-ins and credentials an intruder uses to get in (ATT&CK TA0001,
//! T1078.004 Valid Accounts: Cloud Accounts).

use crate::detector::rule::Attack;

pub mod console_login_without_mfa;
pub mod root_user_activity;

/// ATT&CK T1078.004 under Initial Access.
pub(crate) const CLOUD_ACCOUNTS: Attack = Attack {
    tactic_id: "TA0001",
    tactic_name: "Initial Access",
    technique_id: "T1078.004",
    technique_name: "Valid Accounts: Cloud Accounts",
};
