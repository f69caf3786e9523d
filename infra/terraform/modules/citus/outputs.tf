output "coordinator_private_ip" {
  description = "Where the app connects (DATABASE_URL host)."
  value       = aws_instance.coordinator.private_ip
}

output "worker_private_ips" {
  description = "Citus worker nodes."
  value       = aws_instance.worker[*].private_ip
}

output "wal_bucket" {
  description = "pgBackRest repository (base backups + WAL) for point-in-time recovery."
  value       = aws_s3_bucket.wal.bucket
}
