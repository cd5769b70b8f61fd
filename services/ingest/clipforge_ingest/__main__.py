from clipforge_ingest.main import main

main()
