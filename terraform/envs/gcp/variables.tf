variable "project" {
  description = "GCP project id to deploy into."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project))
    error_message = "project must be a GCP project id."
  }
}

variable "region" {
  description = "GCP region."
  type        = string
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a GCP region such as europe-west1."
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
  description = "Globally unique prefix of the lake's buckets."
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
  description = "The project's Spark 4.1.1 image, e.g. in Artifact Registry."
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

variable "cassandra_zones" {
  description = "Zones of the Cassandra VMs; empty: the first three zones of the region that are UP."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for z in var.cassandra_zones : can(regex("^[a-z]+-[a-z]+[0-9]-[a-z]$", z))])
    error_message = "cassandra_zones must be zone names such as europe-west1-b."
  }
}

variable "manage_db_roles" {
  description = "Create the PostgreSQL roles and databases with the postgresql provider; needs reach to Cloud SQL's private IP, so a first apply from outside sets false."
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

variable "labels" {
  description = "Labels on every resource that takes them."
  type        = map(string)
  default     = { project = "marketpulse" }

  validation {
    condition     = alltrue([for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k))])
    error_message = "Label keys must be lowercase, start with a letter, at most 63 characters."
  }
}
