# Dataproc: a small cluster that runs the long-lived streaming jobs (Dataproc Serverless batches suit backfills).
resource "google_dataproc_cluster" "this" {
  project = var.project
  region  = var.region
  name    = "${var.name}-spark"
  labels  = var.labels

  cluster_config {
    staging_bucket = var.staging_bucket

    gce_cluster_config {
      subnetwork       = var.subnetwork_id
      service_account  = var.service_account_email
      internal_ip_only = true
    }

    master_config {
      num_instances = 1
      machine_type  = var.machine_type
    }

    worker_config {
      num_instances = var.worker_count
      machine_type  = var.machine_type
    }

    software_config {
      image_version = var.image_version
    }
  }
}
