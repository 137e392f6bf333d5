# The lake's buckets on any S3-compatible endpoint (the local stack's SeaweedFS), made by the project's own CLI.
# No permissively licensed Terraform provider that talks to a custom S3 endpoint can be built from the registries
# we reach (the MinIO provider is AGPL-3.0; hashicorp/aws is refused by the Go module proxy): docs/decisions/0002.
# Both commands are idempotent: `create` adopts a bucket that exists, `delete` ignores one that is gone.
resource "terraform_data" "this" {
  for_each = var.buckets

  # A new name is a new bucket; endpoint or key changes only update the recorded input (no provisioner runs).
  triggers_replace = each.value

  input = {
    bucket        = each.value
    endpoint_url  = var.endpoint_url
    region        = var.region
    access_key    = var.access_key
    force_destroy = var.force_destroy
    cli           = var.cli
  }

  provisioner "local-exec" {
    # interpreter + command = argv: no shell, so nothing in a name or URL is interpreted.
    interpreter = concat(self.input.cli, ["infra", "bucket", "create"])
    command     = self.input.bucket
    environment = {
      MARKETPULSE_S3__ENDPOINT_URL = self.input.endpoint_url
      MARKETPULSE_S3__REGION       = self.input.region
      MARKETPULSE_S3__ACCESS_KEY   = self.input.access_key
    }
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = concat(self.input.cli, ["infra", "bucket", "delete"], self.input.force_destroy ? ["--force"] : [])
    command     = self.input.bucket
    environment = {
      MARKETPULSE_S3__ENDPOINT_URL = self.input.endpoint_url
      MARKETPULSE_S3__REGION       = self.input.region
      MARKETPULSE_S3__ACCESS_KEY   = self.input.access_key
    }
  }
}
