output "secret_arn" {
  description = "The JSON secret (grant secretsmanager:GetSecretValue on it to whoever reads it)."
  value       = aws_secretsmanager_secret.this.arn
}

output "kms_key_arn" {
  description = "Customer-managed key of the secrets (decrypt permission goes with the secret)."
  value       = aws_kms_key.this.arn
}

output "ecs_secrets" {
  description = "Environment variable => ECS valueFrom (<secret arn>:<json key>::) for a task definition's secrets."
  value       = { for name in nonsensitive(keys(var.values)) : name => "${aws_secretsmanager_secret.this.arn}:${name}::" }
}
