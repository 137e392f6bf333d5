variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region such as eu-west-1."
  }
}

variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "marketpulse"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,23}$", var.name))
    error_message = "name must be 3-24 lowercase letters, digits or hyphens."
  }
}

variable "bucket_prefix" {
  description = "Globally unique prefix of the lake's buckets (<prefix>-raw, ...)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,49}[a-z0-9]$", var.bucket_prefix))
    error_message = "bucket_prefix must be 3-51 lowercase letters, digits or hyphens."
  }
}

variable "image" {
  description = "MarketPulse container image the services run."
  type        = string

  validation {
    condition     = length(var.image) > 0
    error_message = "image must be set."
  }
}

variable "spark_image" {
  description = "The project's Spark 4.1.1 image (Spark + marketpulse + connector jars), e.g. in ECR."
  type        = string

  validation {
    condition     = length(var.spark_image) > 0
    error_message = "spark_image must be set."
  }
}

variable "airflow_image" {
  description = "The project's Airflow 3.3.2 image (repository:tag) with the marketpulse venv and the DAGs."
  type        = string

  validation {
    condition     = can(regex("^[^:]+:[^:]+$", var.airflow_image))
    error_message = "airflow_image must be repository:tag."
  }
}

variable "certificate_arn" {
  description = "ACM certificate of the public listeners (empty: plain HTTP, for a first test only)."
  type        = string
  default     = ""

  validation {
    condition     = var.certificate_arn == "" || startswith(var.certificate_arn, "arn:")
    error_message = "certificate_arn must be empty or an ACM certificate ARN."
  }
}

variable "manage_db_roles" {
  description = "Create the PostgreSQL roles and databases with the postgresql provider; needs reach to the private server (run from inside the VPC), so a first apply from outside sets false."
  type        = bool
  default     = true
}

variable "s3_static_keys" {
  description = "Give the app a lake-only IAM key pair (the app cannot use role credentials yet, decision 0010)."
  type        = bool
  default     = true
}

variable "kafka_partitions" {
  description = "Partitions of every topic."
  type        = number
  default     = 6

  validation {
    condition     = var.kafka_partitions >= 1
    error_message = "kafka_partitions must be at least 1."
  }
}

variable "create_topics" {
  description = "Create the topics with the kafka provider; needs network reach to the brokers (run from inside the VPC or a VPN), so a first apply from outside sets false."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = { project = "marketpulse" }

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) > 0])
    error_message = "Tag keys must not be empty."
  }
}
