variable "stack_host" {
  description = "Address the local stack's services listen on (Settings.stack.host)."
  type        = string
  default     = "127.0.0.1"
}

variable "kafka_bootstrap_servers" {
  description = "Kafka bootstrap servers of the local stack (Settings.kafka_bootstrap)."
  type        = string
  default     = "127.0.0.1:9092"

  validation {
    condition     = can(regex("^[^,:]+:[0-9]+(,[^,:]+:[0-9]+)*$", var.kafka_bootstrap_servers))
    error_message = "kafka_bootstrap_servers must be host:port[,host:port...]."
  }
}

variable "kafka_partitions" {
  description = "Partitions of every topic (Settings.kafka.default_partitions)."
  type        = number
  default     = 3

  validation {
    condition     = var.kafka_partitions >= 1 && floor(var.kafka_partitions) == var.kafka_partitions
    error_message = "kafka_partitions must be a whole number of at least 1."
  }
}

variable "s3_port" {
  description = "Port of the local SeaweedFS's S3 API (Settings.s3.port)."
  type        = number
  default     = 9000

  validation {
    condition     = var.s3_port >= 1 && var.s3_port <= 65535
    error_message = "s3_port must be a TCP port."
  }
}

variable "s3_access_key" {
  description = "S3 access key id of the local SeaweedFS (Settings.s3.access_key)."
  type        = string
  default     = "marketpulse"
}

variable "s3_secret_key" {
  description = "S3 secret key of the local SeaweedFS (Settings.s3.secret_key); also passed to the bucket commands as MARKETPULSE_S3__SECRET_KEY by `marketpulse infra`."
  type        = string
  default     = "marketpulse-secret"
  sensitive   = true
}

variable "s3_region" {
  description = "Region the S3 clients sign for (Settings.s3.region)."
  type        = string
  default     = "us-east-1"
}

variable "bucket_prefix" {
  description = "Buckets are <bucket_prefix>-raw, -features, -models, -checkpoints (Settings.s3.bucket_prefix)."
  type        = string
  default     = "marketpulse"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,49}[a-z0-9]$", var.bucket_prefix))
    error_message = "bucket_prefix must be 3-51 lowercase letters, digits or hyphens, not starting or ending with a hyphen."
  }
}

variable "topic_prefix" {
  description = "Prefix for every topic name: empty for the platform, set by tests so runs never collide."
  type        = string
  default     = ""
}

variable "cassandra_port" {
  description = "CQL port of the local Cassandra (Settings.cassandra.port); the keyspace and tables are the app's migrations."
  type        = number
  default     = 9042
}

variable "cassandra_keyspace" {
  description = "Keyspace the app migrates (Settings.cassandra.keyspace)."
  type        = string
  default     = "marketpulse"
}

variable "redis_port" {
  description = "Port of the local Redis (Settings.redis.port)."
  type        = number
  default     = 6379
}

variable "postgres_port" {
  description = "Port of the local PostgreSQL (Settings.postgres.port)."
  type        = number
  default     = 5432
}

variable "marketpulse_cli" {
  description = "argv prefix that runs the MarketPulse CLI for the bucket commands; `marketpulse infra` passes its own interpreter."
  type        = list(string)
  default     = ["marketpulse"]

  validation {
    condition     = length(var.marketpulse_cli) > 0
    error_message = "marketpulse_cli must name at least the program to run."
  }
}
