variable "name" {
  description = "Resource name prefix."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets; nodes are spread across them."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups admitting the app tasks on 5432."
  type        = list(string)
}

variable "vpc_cidr" {
  description = "Coordinator and workers talk to each other inside the VPC."
  type        = string
}

variable "worker_count" {
  description = "Number of Citus worker nodes."
  type        = number
  default     = 2
}

variable "coordinator_instance_type" {
  description = "EC2 type of the coordinator."
  type        = string
}

variable "worker_instance_type" {
  description = "EC2 type of each worker."
  type        = string
}

variable "volume_size_gb" {
  description = "Encrypted gp3 data volume per node."
  type        = number
  default     = 200
}

variable "kms_key_arn" {
  description = "Key for volumes and the WAL archive bucket."
  type        = string
}

variable "db_password_secret_arn" {
  description = "Secrets Manager secret holding the siaga112 role's password (read at boot)."
  type        = string
}

variable "backup_retention_days" {
  description = "Days of base backups and WAL kept by pgBackRest in the archive bucket."
  type        = number
  default     = 35
}

variable "postgres_major" {
  description = "PostgreSQL major version installed on the nodes."
  type        = number
  default     = 16
}

variable "citus_package" {
  description = "Citus package from the Citus apt repository (12.x brings schema-based sharding)."
  type        = string
  default     = "postgresql-16-citus-12.1"
}
