//! Privilege escalation: a principal given more rights, or taking over a more privileged one
//! (ATT&CK TA0004).

pub mod iam_admin_policy_granted;
pub mod iam_login_profile_updated_for_another_user;
