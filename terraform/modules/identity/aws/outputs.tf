output "task_role_arn" {
  description = "Role of the ECS tasks (also their execution role)."
  value       = aws_iam_role.this["tasks"].arn
}

output "pod_role_arn" {
  description = "Role the EKS workloads assume through Pod Identity."
  value       = aws_iam_role.this["pods"].arn
}

output "s3_access_key" {
  description = "Access key id of the lake user (empty without s3_static_keys)."
  value       = var.s3_static_keys ? aws_iam_access_key.this[0].id : ""
}

output "s3_secret_key" {
  description = "Secret of the lake user's key (empty without s3_static_keys)."
  value       = var.s3_static_keys ? aws_iam_access_key.this[0].secret : ""
  sensitive   = true
}
