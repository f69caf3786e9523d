output "app_url" {
  description = "Public URL of the platform (point domain_name's DNS at load_balancer_dns_name)."
  value       = "https://${var.domain_name}/"
}

output "national_dashboard_url" {
  description = "Kominfo's national dashboard."
  value       = "https://${var.domain_name}/national"
}

output "load_balancer_dns_name" {
  description = "CNAME/alias target for domain_name (and *.tenant_domain)."
  value       = aws_lb.main.dns_name
}

output "health_urls" {
  description = "Liveness and readiness endpoints checked by the containers and the load balancer."
  value       = ["https://${var.domain_name}/healthz", "https://${var.domain_name}/readyz"]
}

output "ecr_repository_url" {
  description = "Push the image here, then set container_image."
  value       = aws_ecr_repository.app.repository_url
}

output "database_endpoint" {
  description = "PostgreSQL host (RDS or the Citus coordinator)."
  value       = local.db_host
}

output "redis_endpoint" {
  description = "Primary endpoint of the Redis replication group."
  value       = aws_elasticache_replication_group.main.primary_endpoint_address
}

output "recordings_bucket" {
  description = "Private bucket for call recordings (deleted by the app per regency retention)."
  value       = module.recordings_bucket.bucket
}

output "documents_bucket" {
  description = "Private bucket for uploaded documents."
  value       = module.documents_bucket.bucket
}

output "secret_arns" {
  description = "Secrets Manager entries injected into the tasks."
  value = {
    secret_key   = aws_secretsmanager_secret.secret_key.arn
    database_url = aws_secretsmanager_secret.database_url.arn
    redis_url    = aws_secretsmanager_secret.redis_url.arn
  }
}

output "migrate_command" {
  description = "Run before every rollout (public schema, then every tenant schema)."
  value       = "aws ecs run-task --cluster ${aws_ecs_cluster.main.name} --launch-type FARGATE --task-definition ${aws_ecs_task_definition.migrate.family} --network-configuration 'awsvpcConfiguration={subnets=[${join(",", aws_subnet.private[*].id)}],securityGroups=[${aws_security_group.app.id}]}'"
}

output "citus_coordinator" {
  description = "Private IP of the Citus coordinator when citus_enabled."
  value       = var.citus_enabled ? module.citus[0].coordinator_private_ip : null
}
