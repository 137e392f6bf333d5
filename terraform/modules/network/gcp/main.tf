# One VPC with a regional subnet, Cloud NAT for egress, and private services access for Memorystore.
resource "google_compute_network" "this" {
  project                 = var.project
  name                    = var.name
  auto_create_subnetworks = false
}

resource "google_compute_subnetwork" "this" {
  project                  = var.project
  name                     = "${var.name}-${var.region}"
  region                   = var.region
  network                  = google_compute_network.this.id
  ip_cidr_range            = var.cidr_range
  private_ip_google_access = true

  # GKE's pods and services (VPC-native): named here so the firewall below can admit the pods.
  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = var.pods_cidr
  }
  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = var.services_cidr
  }
}

resource "google_compute_router" "this" {
  project = var.project
  name    = var.name
  region  = var.region
  network = google_compute_network.this.id
}

resource "google_compute_router_nat" "this" {
  project                            = var.project
  name                               = var.name
  router                             = google_compute_router.this.name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"
}

resource "google_compute_firewall" "internal" {
  project = var.project
  name    = "${var.name}-internal"
  network = google_compute_network.this.id
  # The subnet (VMs, Cloud Run's direct VPC egress) and GKE's pods reach the Cassandra VMs and each other.
  source_ranges = [var.cidr_range, var.pods_cidr]
  allow {
    protocol = "all"
  }
}

# Private services access: Cloud SQL and Memorystore take private IPs from this range, peered into the VPC.
resource "google_compute_global_address" "this" {
  project       = var.project
  name          = "${var.name}-private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = 16
  network       = google_compute_network.this.id
}

resource "google_service_networking_connection" "this" {
  network                 = google_compute_network.this.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.this.name]
}
