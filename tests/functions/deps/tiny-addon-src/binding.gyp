{
  "targets": [
    {"target_name": "tiny_addon", "sources": ["addon.c"]}
  ]
}
