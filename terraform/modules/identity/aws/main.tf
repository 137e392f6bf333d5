# Roles the workloads run as: ECS tasks (ingest, API, dashboard) and the EKS pods (Spark, Airflow) through
# Pod Identity; both read the platform's secret. Plus, while the app needs a static S3 key pair, an IAM user
# limited to the lake (s3_static_keys).
data "aws_iam_policy_document" "assume" {
  for_each = {
    tasks = "ecs-tasks.amazonaws.com"
    pods  = "pods.eks.amazonaws.com"
  }
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = [each.value]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each           = data.aws_iam_policy_document.assume
  name               = "${var.name}-${each.key}"
  assume_role_policy = each.value.json
  tags               = var.tags
}

data "aws_iam_policy_document" "data_access" {
  statement {
    sid       = "Lake"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:GetBucketLocation"]
    resources = flatten([for arn in var.bucket_arns : [arn, "${arn}/*"]])
  }
  statement {
    sid       = "Secrets"
    actions   = ["secretsmanager:GetSecretValue", "kms:Decrypt"]
    resources = [var.secret_arn, var.kms_key_arn]
  }
  statement {
    sid       = "Keyspaces"
    actions   = ["cassandra:Select", "cassandra:Modify", "cassandra:Create", "cassandra:Alter"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "data_access" {
  for_each = aws_iam_role.this
  name     = "marketpulse-data"
  role     = each.value.id
  policy   = data.aws_iam_policy_document.data_access.json
}

resource "aws_iam_role_policy_attachment" "task_execution" {
  role       = aws_iam_role.this["tasks"].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_user" "this" {
  count = var.s3_static_keys ? 1 : 0
  name  = "${var.name}-lake"
  tags  = var.tags
}

resource "aws_iam_user_policy" "this" {
  count  = var.s3_static_keys ? 1 : 0
  name   = "marketpulse-lake"
  user   = aws_iam_user.this[0].name
  policy = data.aws_iam_policy_document.lake.json
}

data "aws_iam_policy_document" "lake" {
  statement {
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:GetBucketLocation"]
    resources = flatten([for arn in var.bucket_arns : [arn, "${arn}/*"]])
  }
}

resource "aws_iam_access_key" "this" {
  count = var.s3_static_keys ? 1 : 0
  user  = aws_iam_user.this[0].name
}
