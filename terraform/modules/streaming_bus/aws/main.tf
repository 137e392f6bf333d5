# Amazon MSK (provisioned), IAM auth over TLS; topics are created with modules/streaming_bus/kafka.
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
      iam = true
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
