//! Network exposure: hosts and services opened to the internet (ATT&CK T1562.007 Impair
//! Defenses: Disable or Modify Cloud Firewall).

pub mod security_group_opened_to_internet;
