output "task_role_arn" {
  description = "Role of the ECS tasks (also their execution role)."
  value       = aws_iam_role.this["tasks"].arn
}

output "spark_role_arn" {
  description = "Runtime role of EMR Serverless job runs."
  value       = aws_iam_role.this["spark"].arn
}
