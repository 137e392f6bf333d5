# AWS Secrets Manager: one JSON secret holding every MARKETPULSE_* secret of the environment, encrypted with
# a customer-managed KMS key (MSK's SCRAM secret must use such a key too, so streaming_bus/aws takes it).
resource "aws_kms_key" "this" {
  description             = "${var.name}: application secrets and the MSK SCRAM secret"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = var.tags
}

resource "aws_secretsmanager_secret" "this" {
  name                    = "${var.name}/app"
  description             = "MARKETPULSE_* secrets of ${var.name}; ECS injects each key as an environment variable."
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id     = aws_secretsmanager_secret.this.id
  secret_string = jsonencode(var.values)
}
