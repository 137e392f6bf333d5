output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_names" {
  description = "The ECS services."
  value       = sort(keys(aws_ecs_service.this))
}

output "urls" {
  description = "Public service => URL on the load balancer."
  value       = { for name, s in local.public : name => "${local.https ? "https" : "http"}://${aws_lb.this.dns_name}:${s.listener_port}" }
}
