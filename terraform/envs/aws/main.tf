# AWS: MSK (SCRAM), EKS (Spark 4.1 on Kubernetes + Airflow 3 from the official chart), ElastiCache, Amazon
# Keyspaces, S3, RDS for PostgreSQL, Secrets Manager and ECS Fargate behind an ALB, in one VPC.
# docs/decisions/0010-cloud-deployment.md says why each; terraform/README.md says how to apply (two phases:
# the cluster first, because the kubernetes/helm providers are configured from it).
provider "aws" {
  region = var.region
  default_tags {
    tags = var.tags
  }
}

data "aws_eks_cluster_auth" "this" {
  name = module.spark_runtime.cluster_name
}

provider "kubernetes" {
  host                   = module.spark_runtime.endpoint
  cluster_ca_certificate = module.spark_runtime.ca_certificate
  token                  = data.aws_eks_cluster_auth.this.token
}

provider "helm" {
  kubernetes = {
    host                   = module.spark_runtime.endpoint
    cluster_ca_certificate = module.spark_runtime.ca_certificate
    token                  = data.aws_eks_cluster_auth.this.token
  }
}

# Topics on MSK over SASL/SCRAM (needs reach to the brokers: create_topics).
provider "kafka" {
  bootstrap_servers = split(",", module.streaming_bus.bootstrap_brokers)
  tls_enabled       = true
  sasl_mechanism    = "scram-sha512"
  sasl_username     = module.streaming_bus.scram_username
  sasl_password     = module.passwords.values["kafka"]
}

# Roles and databases on RDS (needs reach to the server: manage_db_roles).
provider "postgresql" {
  host      = module.reporting_db.host
  port      = module.reporting_db.port
  username  = module.reporting_db.admin_user
  password  = module.passwords.values["postgres_admin"]
  sslmode   = "require"
  superuser = false
}

module "catalog" {
  source        = "../../modules/catalog"
  bucket_prefix = var.bucket_prefix
}

module "passwords" {
  source = "../../modules/secrets/generate"
  names  = ["kafka", "redis", "postgres_admin", "postgres_app", "powerbi", "airflow_admin"]
}

module "network" {
  source = "../../modules/network/aws"
  name   = var.name
}

module "object_store" {
  source  = "../../modules/object_store/aws"
  buckets = module.catalog.buckets
}

module "secrets" {
  source = "../../modules/secrets/aws"
  name   = var.name
  values = local.app_secrets
}

module "identity" {
  source         = "../../modules/identity/aws"
  name           = var.name
  bucket_arns    = module.object_store.bucket_arns
  secret_arn     = module.secrets.secret_arn
  kms_key_arn    = module.secrets.kms_key_arn
  s3_static_keys = var.s3_static_keys
}

module "streaming_bus" {
  source             = "../../modules/streaming_bus/aws"
  name               = var.name
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.network.security_group_id]
  default_partitions = var.kafka_partitions
  kms_key_arn        = module.secrets.kms_key_arn
  scram_password     = module.passwords.values["kafka"]
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
  auth_token         = module.passwords.values["redis"]
}

module "history_store" {
  source = "../../modules/history_store/aws"
}

module "reporting_db" {
  source             = "../../modules/reporting_db/aws"
  name               = var.name
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.network.security_group_id]
  admin_password     = module.passwords.values["postgres_admin"]
}

module "db_roles" {
  source           = "../../modules/reporting_db/roles"
  count            = var.manage_db_roles ? 1 : 0
  app_password     = module.passwords.values["postgres_app"]
  powerbi_password = module.passwords.values["powerbi"]
}

module "spark_runtime" {
  source             = "../../modules/spark_runtime/aws"
  name               = var.name
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.network.security_group_id]
  workload_role_arn  = module.identity.pod_role_arn
}

module "workloads" {
  source        = "../../modules/spark_runtime/kubernetes"
  spark_image   = var.spark_image
  app_image     = var.image
  airflow_image = var.airflow_image
  app_env       = local.app_env
  app_secrets   = local.app_secrets
  db_host       = module.reporting_db.host
  db_password   = module.passwords.values["postgres_app"]
  depends_on    = [module.db_roles]
}

module "services" {
  source             = "../../modules/services/aws"
  name               = var.name
  image              = var.image
  app_env            = local.app_env
  secrets            = module.secrets.ecs_secrets
  task_role_arn      = module.identity.task_role_arn
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.network.security_group_id]
  vpc_id             = module.network.vpc_id
  vpc_cidr           = module.network.cidr_block
  public_subnet_ids  = module.network.public_subnet_ids
  certificate_arn    = var.certificate_arn
  # The schema-migration job (module.workloads) has completed before any service starts.
  depends_on = [module.workloads]
}

locals {
  # What the application reads (Settings): MSK over SASL_SSL + SCRAM-SHA-512 (public Amazon CA: the system trust
  # store), Keyspaces over TLS with SigV4 from the pod/task role, protocol v4, LOCAL_QUORUM writes (decision 0014).
  # Without s3_static_keys both S3 key settings are empty: the app takes the default credential chain.
  app_env = {
    MARKETPULSE_ENVIRONMENT                  = "aws"
    MARKETPULSE_KAFKA__BOOTSTRAP_SERVERS     = module.streaming_bus.bootstrap_brokers
    MARKETPULSE_KAFKA__DEFAULT_PARTITIONS    = tostring(var.kafka_partitions)
    MARKETPULSE_KAFKA__SECURITY_PROTOCOL     = "SASL_SSL"
    MARKETPULSE_KAFKA__SASL_MECHANISM        = "SCRAM-SHA-512"
    MARKETPULSE_KAFKA__SASL_USERNAME         = module.streaming_bus.scram_username
    MARKETPULSE_S3__ENDPOINT_URL             = ""
    MARKETPULSE_S3__REGION                   = var.region
    MARKETPULSE_S3__ACCESS_KEY               = module.identity.s3_access_key
    MARKETPULSE_S3__BUCKET_PREFIX            = module.catalog.bucket_prefix
    MARKETPULSE_CASSANDRA__HOSTS             = jsonencode(module.history_store.hosts)
    MARKETPULSE_CASSANDRA__PORT              = "9142"
    MARKETPULSE_CASSANDRA__KEYSPACE          = module.history_store.keyspace
    MARKETPULSE_CASSANDRA__SSL               = "true"
    MARKETPULSE_CASSANDRA__AUTH              = "sigv4"
    MARKETPULSE_CASSANDRA__SIGV4_REGION      = var.region
    MARKETPULSE_CASSANDRA__LOCAL_DC          = var.region
    MARKETPULSE_CASSANDRA__PROTOCOL_VERSION  = "4"
    MARKETPULSE_CASSANDRA__WRITE_CONSISTENCY = "LOCAL_QUORUM"
    MARKETPULSE_POSTGRES__HOST               = module.reporting_db.host
    MARKETPULSE_POSTGRES__PORT               = tostring(module.reporting_db.port)
    MARKETPULSE_POSTGRES__USER               = "marketpulse"
    MARKETPULSE_POSTGRES__DATABASE           = "marketpulse"
    MARKETPULSE_SPARK__MASTER                = module.workloads.spark_master
    MARKETPULSE_STREAM__CHECKPOINT_ROOT      = "s3a://${module.object_store.bucket_names["checkpoints"]}/streams"
  }
  app_secrets = {
    MARKETPULSE_POSTGRES__PASSWORD      = module.passwords.values["postgres_app"]
    MARKETPULSE_AIRFLOW__ADMIN_PASSWORD = module.passwords.values["airflow_admin"]
    MARKETPULSE_REDIS__URL              = module.online_store.url
    MARKETPULSE_S3__SECRET_KEY          = module.identity.s3_secret_key
    MARKETPULSE_KAFKA__SASL_PASSWORD    = module.passwords.values["kafka"]
  }
  platform_settings = {
    s3       = { credentials = var.s3_static_keys ? "static key (lake IAM user)" : "default chain (Pod Identity / task role)" }
    postgres = { sslmode = "require", server_ca = module.reporting_db.server_ca, powerbi_user = "powerbi" }
  }
}
