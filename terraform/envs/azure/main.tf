# Azure: Event Hubs Premium (Kafka endpoint), AKS (Spark 4.1 on Kubernetes + Airflow 3 from the official
# chart), Azure Cache for Redis, Managed Instance for Apache Cassandra, ADLS Gen2, PostgreSQL Flexible Server,
# Key Vault and Container Apps, in one VNet. docs/decisions/0010-cloud-deployment.md says why each.
provider "azurerm" {
  subscription_id = var.subscription_id
  features {}
}

provider "kubernetes" {
  host                   = module.spark_runtime.endpoint
  cluster_ca_certificate = module.spark_runtime.ca_certificate
  client_certificate     = module.spark_runtime.client_certificate
  client_key             = module.spark_runtime.client_key
}

provider "helm" {
  kubernetes = {
    host                   = module.spark_runtime.endpoint
    cluster_ca_certificate = module.spark_runtime.ca_certificate
    client_certificate     = module.spark_runtime.client_certificate
    client_key             = module.spark_runtime.client_key
  }
}

# Roles and databases on Flexible Server (needs reach into the VNet: manage_db_roles).
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
  names  = ["postgres_admin", "postgres_app", "powerbi", "airflow_admin", "cassandra_admin"]
}

module "network" {
  source   = "../../modules/network/azure"
  name     = var.name
  location = var.location
  tags     = var.tags
}

module "object_store" {
  source              = "../../modules/object_store/azure"
  account_name        = var.storage_account_name
  buckets             = module.catalog.buckets
  resource_group_name = module.network.resource_group_name
  location            = var.location
  tags                = var.tags
}

module "streaming_bus" {
  source               = "../../modules/streaming_bus/azure"
  name                 = var.name
  resource_group_name  = module.network.resource_group_name
  location             = var.location
  topics               = module.catalog.topics
  partitions           = var.kafka_partitions
  sku                  = var.eventhubs_sku
  accept_retention_cap = var.accept_retention_cap
  tags                 = var.tags
}

module "identity" {
  source                = "../../modules/identity/azure"
  name                  = var.name
  resource_group_name   = module.network.resource_group_name
  location              = var.location
  storage_account_id    = module.object_store.storage_account_id
  eventhub_namespace_id = module.streaming_bus.namespace_id
  tags                  = var.tags
}

module "online_store" {
  source              = "../../modules/online_store/azure"
  name                = var.name
  resource_group_name = module.network.resource_group_name
  location            = var.location
  tags                = var.tags
}

module "history_store" {
  source                = "../../modules/history_store/azure"
  name                  = var.name
  resource_group_name   = module.network.resource_group_name
  location              = var.location
  vnet_id               = module.network.vnet_id
  subnet_id             = module.network.cassandra_subnet_id
  cosmosdb_principal_id = var.cosmosdb_principal_id
  admin_password        = module.passwords.values["cassandra_admin"]
  tags                  = var.tags
}

module "reporting_db" {
  source              = "../../modules/reporting_db/azure"
  name                = var.name
  resource_group_name = module.network.resource_group_name
  location            = var.location
  vnet_id             = module.network.vnet_id
  subnet_id           = module.network.postgres_subnet_id
  admin_password      = module.passwords.values["postgres_admin"]
  tags                = var.tags
}

module "db_roles" {
  source           = "../../modules/reporting_db/roles"
  count            = var.manage_db_roles ? 1 : 0
  app_password     = module.passwords.values["postgres_app"]
  powerbi_password = module.passwords.values["powerbi"]
}

module "secrets" {
  source              = "../../modules/secrets/azure"
  vault_name          = var.key_vault_name
  resource_group_name = module.network.resource_group_name
  location            = var.location
  reader_principal_id = module.identity.principal_id
  values              = local.app_secrets
  tags                = var.tags
}

module "spark_runtime" {
  source              = "../../modules/spark_runtime/azure"
  name                = var.name
  resource_group_name = module.network.resource_group_name
  location            = var.location
  subnet_id           = module.network.aks_subnet_id
  identity_id         = module.identity.id
  registry_id         = var.registry_id
  tags                = var.tags
}

module "workloads" {
  source                      = "../../modules/spark_runtime/kubernetes"
  spark_image                 = var.spark_image
  app_image                   = var.image
  airflow_image               = var.airflow_image
  app_env                     = local.app_env
  app_secrets                 = local.app_secrets
  db_host                     = module.reporting_db.host
  db_password                 = module.passwords.values["postgres_app"]
  service_account_annotations = { "azure.workload.identity/client-id" = module.identity.client_id }
  pod_labels                  = { "azure.workload.identity/use" = "true" }
  depends_on                  = [module.db_roles]
}

module "services" {
  source                = "../../modules/services/azure"
  name                  = var.name
  resource_group_name   = module.network.resource_group_name
  location              = var.location
  subnet_id             = module.network.apps_subnet_id
  identity_id           = module.identity.id
  identity_principal_id = module.identity.principal_id
  registry_server       = var.registry_server
  registry_id           = var.registry_id
  image                 = var.image
  app_env               = local.app_env
  secret_ids            = module.secrets.secret_ids
  tags                  = var.tags
  # The schema-migration job (module.workloads) has completed before any service starts.
  depends_on = [module.workloads]
}

locals {
  # Object storage: ADLS Gen2 through adlfs with the workload identity (no keys: both S3 key settings empty).
  # Event Hubs: SASL/PLAIN over TLS with the namespace connection string. Cassandra MI: TLS + password.
  app_env = {
    MARKETPULSE_ENVIRONMENT                  = "azure"
    MARKETPULSE_KAFKA__BOOTSTRAP_SERVERS     = module.streaming_bus.bootstrap_servers
    MARKETPULSE_KAFKA__DEFAULT_PARTITIONS    = tostring(var.kafka_partitions)
    MARKETPULSE_KAFKA__SECURITY_PROTOCOL     = "SASL_SSL"
    MARKETPULSE_KAFKA__SASL_MECHANISM        = "PLAIN"
    MARKETPULSE_KAFKA__SASL_USERNAME         = "$ConnectionString"
    MARKETPULSE_S3__BACKEND                  = "adls"
    MARKETPULSE_S3__ADLS_ACCOUNT             = module.object_store.storage_account_name
    MARKETPULSE_S3__ACCESS_KEY               = ""
    MARKETPULSE_S3__SECRET_KEY               = ""
    MARKETPULSE_S3__BUCKET_PREFIX            = module.catalog.bucket_prefix
    MARKETPULSE_CASSANDRA__HOSTS             = jsonencode(module.history_store.hosts)
    MARKETPULSE_CASSANDRA__KEYSPACE          = "marketpulse"
    MARKETPULSE_CASSANDRA__SSL               = "true"
    MARKETPULSE_CASSANDRA__AUTH              = "password"
    MARKETPULSE_CASSANDRA__USERNAME          = "cassandra"
    MARKETPULSE_CASSANDRA__PROTOCOL_VERSION  = "4"
    MARKETPULSE_CASSANDRA__WRITE_CONSISTENCY = "LOCAL_QUORUM"
    MARKETPULSE_POSTGRES__HOST               = module.reporting_db.host
    MARKETPULSE_POSTGRES__PORT               = tostring(module.reporting_db.port)
    MARKETPULSE_POSTGRES__USER               = "marketpulse"
    MARKETPULSE_POSTGRES__DATABASE           = "marketpulse"
    MARKETPULSE_SPARK__MASTER                = module.workloads.spark_master
  }
  app_secrets = {
    MARKETPULSE_POSTGRES__PASSWORD      = module.passwords.values["postgres_app"]
    MARKETPULSE_AIRFLOW__ADMIN_PASSWORD = module.passwords.values["airflow_admin"]
    MARKETPULSE_REDIS__URL              = module.online_store.url
    MARKETPULSE_KAFKA__SASL_PASSWORD    = module.streaming_bus.connection_string
    MARKETPULSE_CASSANDRA__PASSWORD     = module.passwords.values["cassandra_admin"]
  }
  platform_settings = {
    kafka     = { capped_topics = module.streaming_bus.capped_topics }
    cassandra = { version = "4.0" }
    lake      = { credentials = "workload identity (client id ${module.identity.client_id})" }
    postgres  = { sslmode = "require", powerbi_user = "powerbi", powerbi_gateway_subnet = module.network.powerbi_subnet_id }
  }
}
