# Roles the workloads run as: ECS tasks (ingest, API, dashboard), EMR Serverless jobs and MWAA.
data "aws_iam_policy_document" "assume" {
  for_each = {
    tasks = "ecs-tasks.amazonaws.com"
    spark = "emr-serverless.amazonaws.com"
  }
  statement {
    actions = ["sts:AssumeRole"]
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
    sid       = "Kafka"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:*Topic*", "kafka-cluster:ReadData", "kafka-cluster:WriteData", "kafka-cluster:*Group*"]
    resources = ["*"]
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
