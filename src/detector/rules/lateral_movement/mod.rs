//! Lateral movement: principals reaching onto instances from the cloud control plane (Session
//! Manager, EC2 Instance Connect, the serial console) (ATT&CK TA0008).

pub mod ec2_instance_connect_ssh_key_sent;
pub mod ec2_serial_console_access_enabled;
pub mod ec2_serial_console_ssh_key_sent;
pub mod ssm_session_started;
