"""Entity expansion stage: each entity becomes a referring expression (`POST /v1/expand`)."""
