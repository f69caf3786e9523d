variable "region" {
  description = "AWS region. ap-southeast-3 (Jakarta) keeps citizens' data in Indonesia."
  type        = string
  default     = "ap-southeast-3"
}

variable "name" {
  description = "Prefix for every resource name."
  type        = string
  default     = "siaga112"
}

variable "environment" {
  description = "production | staging"
  type        = string
  default     = "production"

  validation {
    condition     = contains(["production", "staging"], var.environment)
    error_message = "environment must be production or staging."
  }
}

variable "domain_name" {
  description = "Public host name of the platform, e.g. siaga112.go.id (its DNS points at the load balancer)."
  type        = string
}

variable "tenant_domain" {
  description = "Optional domain for <slug>.<tenant_domain> host names (TENANT_DOMAIN); empty disables it."
  type        = string
  default     = ""
}

variable "certificate_arn" {
  description = "ACM certificate for domain_name (and *.tenant_domain) in the same region."
  type        = string
}

variable "container_image" {
  description = "Image of this repository's Dockerfile, e.g. <account>.dkr.ecr.<region>.amazonaws.com/siaga112:<git sha>."
  type        = string
}

variable "vpc_cidr" {
  description = "Address range of the VPC."
  type        = string
  default     = "10.112.0.0/16"
}

variable "az_count" {
  description = "Availability zones used (2 or 3)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3."
  }
}

# ---------------------------------------------------------------- PostgreSQL

variable "db_engine_version" {
  description = "RDS PostgreSQL major.minor version."
  type        = string
  default     = "16.4"
}

variable "db_instance_class" {
  description = "RDS instance size (514 tenants fit one db.r6g.large; see docs/infra.md)."
  type        = string
  default     = "db.r6g.large"
}

variable "db_allocated_storage_gb" {
  description = "Initial storage; autoscaling grows it up to db_max_allocated_storage_gb."
  type        = number
  default     = 100
}

variable "db_max_allocated_storage_gb" {
  description = "Upper bound for RDS storage autoscaling."
  type        = number
  default     = 1000
}

variable "db_multi_az" {
  description = "Synchronous standby in a second zone (automatic failover)."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Automated backups and point-in-time recovery window (1-35 days)."
  type        = number
  default     = 35

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 1 and 35."
  }
}

variable "db_max_connections" {
  description = "max_connections; size it for (web tasks x workers x (pool + 4 read connections)) + worker tasks + headroom."
  type        = number
  default     = 400
}

# ---------------------------------------------------------------- Citus (optional)

variable "citus_enabled" {
  description = "Use a self-managed Citus cluster (schema-based sharding) instead of RDS PostgreSQL."
  type        = bool
  default     = false
}

variable "citus_worker_count" {
  description = "Citus worker nodes; each tenant schema lives whole on one of them."
  type        = number
  default     = 2
}

variable "citus_coordinator_instance_type" {
  description = "EC2 type of the Citus coordinator."
  type        = string
  default     = "r6g.large"
}

variable "citus_worker_instance_type" {
  description = "EC2 type of each Citus worker."
  type        = string
  default     = "r6g.xlarge"
}

variable "citus_volume_size_gb" {
  description = "Data volume (gp3, encrypted) per Citus node."
  type        = number
  default     = 200
}

# ---------------------------------------------------------------- Redis

variable "redis_node_type" {
  description = "ElastiCache node type (job queue, live-update fan-out, rate limits)."
  type        = string
  default     = "cache.t4g.medium"
}

variable "redis_replicas" {
  description = "Read replicas per shard (>= 1 enables automatic failover)."
  type        = number
  default     = 1
}

# ---------------------------------------------------------------- services

variable "web_cpu" {
  description = "Fargate CPU units per web task (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "web_memory" {
  description = "Fargate memory (MiB) per web task."
  type        = number
  default     = 2048
}

variable "web_processes" {
  description = "uvicorn worker processes per web task (WEB_CONCURRENCY), about one per vCPU."
  type        = number
  default     = 1
}

variable "web_min_count" {
  description = "Minimum web tasks (at least 2, in different zones)."
  type        = number
  default     = 2
}

variable "web_max_count" {
  description = "Maximum web tasks under autoscaling."
  type        = number
  default     = 10
}

variable "worker_cpu" {
  description = "Fargate CPU units per arq worker task."
  type        = number
  default     = 512
}

variable "worker_memory" {
  description = "Fargate memory (MiB) per arq worker task."
  type        = number
  default     = 1024
}

variable "worker_min_count" {
  description = "Minimum arq worker tasks (SLA timers must never stop: at least 2)."
  type        = number
  default     = 2
}

variable "worker_max_count" {
  description = "Maximum arq worker tasks under autoscaling."
  type        = number
  default     = 6
}

variable "log_retention_days" {
  description = "CloudWatch log retention."
  type        = number
  default     = 90
}

variable "alarm_email" {
  description = "Optional address subscribed to the operations alarms topic."
  type        = string
  default     = ""
}
