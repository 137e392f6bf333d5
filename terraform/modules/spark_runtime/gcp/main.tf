# GKE Standard, regional, private nodes, Workload Identity: the cluster the Spark 4.1 jobs (Spark on
# Kubernetes, the project's image) and Airflow run on. Dataproc's Spark 4 image is 4.0 and in preview (0010).
resource "google_container_cluster" "this" {
  project                  = var.project
  name                     = var.name
  location                 = var.region
  network                  = var.network_id
  subnetwork               = var.subnetwork_id
  remove_default_node_pool = true
  initial_node_count       = 1
  deletion_protection      = true
  resource_labels          = var.labels

  workload_identity_config {
    workload_pool = "${var.project}.svc.id.goog"
  }

  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
    master_ipv4_cidr_block  = var.master_cidr
  }

  ip_allocation_policy {
    cluster_secondary_range_name  = var.pods_range_name
    services_secondary_range_name = var.services_range_name
  }

  release_channel {
    channel = "REGULAR"
  }
}

resource "google_container_node_pool" "this" {
  project    = var.project
  name       = "workers"
  cluster    = google_container_cluster.this.id
  location   = var.region
  node_count = var.nodes_per_zone

  node_config {
    machine_type    = var.machine_type
    service_account = var.service_account_email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    resource_labels = var.labels

    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }
}

# The Kubernetes service account acts as the platform's Google service account (Kafka, GCS, secrets).
resource "google_service_account_iam_member" "this" {
  service_account_id = "projects/${var.project}/serviceAccounts/${var.service_account_email}"
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project}.svc.id.goog[${var.namespace}/${var.service_account}]"
  depends_on         = [google_container_cluster.this]
}
