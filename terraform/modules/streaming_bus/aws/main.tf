# Amazon MSK (provisioned), SASL/SCRAM-SHA-512 over TLS: librdkafka, Spark's Kafka client and Airflow's Kafka
# provider all speak SCRAM without an IAM signer. Topics are created with modules/streaming_bus/kafka.
resource "aws_msk_configuration" "this" {
  name           = "${var.name}-kafka"
  kafka_versions = [var.kafka_version]
  # Topics come from Terraform with their own partitions and retention, never from a producer's first write.
  server_properties = <<-EOT
    auto.create.topics.enable=false
    default.replication.factor=${min(3, var.broker_count)}
    min.insync.replicas=${min(2, var.broker_count)}
    num.partitions=${var.default_partitions}
  EOT
}

resource "aws_msk_cluster" "this" {
  cluster_name           = var.name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = var.broker_count

  broker_node_group_info {
    instance_type   = var.instance_type
    client_subnets  = var.subnet_ids
    security_groups = var.security_group_ids
    storage_info {
      ebs_storage_info {
        volume_size = var.volume_size_gb
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this.arn
    revision = aws_msk_configuration.this.latest_revision
  }

  client_authentication {
    sasl {
      scram = true
    }
  }

  encryption_info {
    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  tags = var.tags
}

# MSK reads SCRAM users from Secrets Manager: the name must start with AmazonMSK_ and the secret must use a
# customer-managed KMS key (MSK developer guide, "Set up SASL/SCRAM authentication").
resource "aws_secretsmanager_secret" "this" {
  name                    = "AmazonMSK_${var.name}"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id     = aws_secretsmanager_secret.this.id
  secret_string = jsonencode({ username = var.scram_username, password = var.scram_password })
}

resource "aws_msk_scram_secret_association" "this" {
  cluster_arn     = aws_msk_cluster.this.arn
  secret_arn_list = [aws_secretsmanager_secret.this.arn]
  depends_on      = [aws_secretsmanager_secret_version.this]
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "AWSKafkaResourcePolicy"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.this.arn]
    principals {
      type        = "Service"
      identifiers = ["kafka.amazonaws.com"]
    }
  }
}

# Declared here so the policy MSK attaches on association does not show as drift (aws provider docs).
resource "aws_secretsmanager_secret_policy" "this" {
  secret_arn = aws_secretsmanager_secret.this.arn
  policy     = data.aws_iam_policy_document.this.json
}
