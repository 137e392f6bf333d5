terraform {
  # terraform_data is built in (terraform.io/builtin/terraform): no provider to install.
  required_version = ">= 1.9.0"
}
