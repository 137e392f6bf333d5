# AWS: MSK, EMR Serverless, ElastiCache, Amazon Keyspaces, S3, MWAA and ECS Fargate in one VPC.
provider "aws" {
  region = var.region
  default_tags {
    tags = var.tags
  }
}

# Topics on MSK through IAM auth: the kafka provider signs with the caller's AWS credentials.
provider "kafka" {
  bootstrap_servers = split(",", module.streaming_bus.bootstrap_brokers)
  tls_enabled       = true
  sasl_mechanism    = "aws-iam"
  sasl_aws_region   = var.region
}

module "catalog" {
  source        = "../../modules/catalog"
  bucket_prefix = var.bucket_prefix
}

module "network" {
  source = "../../modules/network/aws"
  name   = var.name
}

module "object_store" {
  source  = "../../modules/object_store/aws"
  buckets = module.catalog.buckets
}

module "identity" {
  source      = "../../modules/identity/aws"
  name        = var.name
  bucket_arns = module.object_store.bucket_arns
}

module "streaming_bus" {
  source             = "../../modules/streaming_bus/aws"
  name               = var.name
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.network.security_group_id]
  default_partitions = var.kafka_partitions
}

module "topics" {
  source     = "../../modules/streaming_bus/kafka"
  count      = var.create_topics ? 1 : 0
  topics     = module.catalog.topics
  partitions = var.kafka_partitions
  # Two brokers by default: replication 2, min.insync 1 keeps producing through one broker's restart.
  replication_factor  = 2
  min_insync_replicas = 1
}

module "online_store" {
  source             = "../../modules/online_store/aws"
  name               = var.name
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.network.security_group_id]
}

module "history_store" {
  source = "../../modules/history_store/aws"
}

module "spark_runtime" {
  source             = "../../modules/spark_runtime/aws"
  name               = var.name
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.network.security_group_id]
}

module "airflow" {
  source             = "../../modules/airflow/aws"
  name               = var.name
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.network.security_group_id]
}

module "services" {
  source             = "../../modules/services/aws"
  name               = var.name
  image              = var.image
  app_env            = local.app_env
  task_role_arn      = module.identity.task_role_arn
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.network.security_group_id]
}

locals {
  # What the application reads (Settings); credentials come from the task role, not from variables.
  app_env = {
    MARKETPULSE_ENVIRONMENT               = "aws"
    MARKETPULSE_KAFKA__BOOTSTRAP_SERVERS  = module.streaming_bus.bootstrap_brokers
    MARKETPULSE_KAFKA__DEFAULT_PARTITIONS = tostring(var.kafka_partitions)
    MARKETPULSE_S3__ENDPOINT_URL          = ""
    MARKETPULSE_S3__REGION                = var.region
    MARKETPULSE_S3__BUCKET_PREFIX         = module.catalog.bucket_prefix
    MARKETPULSE_CASSANDRA__HOSTS          = jsonencode(module.history_store.hosts)
    MARKETPULSE_CASSANDRA__PORT           = "9142"
    MARKETPULSE_CASSANDRA__KEYSPACE       = module.history_store.keyspace
    MARKETPULSE_REDIS__URL                = module.online_store.url
  }
}
