//! Execution: running code or launching compute in the account (ATT&CK TA0002).

pub mod ec2_instance_launches_failed_in_bulk;
