output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_names" {
  description = "The ECS services."
  value       = sort(keys(aws_ecs_service.this))
}
