//! Execution: code run on instances through cloud administration channels or boot scripts,
//! and compute launched for an attacker's own use (ATT&CK TA0002).

pub mod ec2_unusual_instance_type_launched;
pub mod ec2_user_data_modified;
pub mod ssm_send_command_shell_script;
