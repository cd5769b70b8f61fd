from clipforge_gateway.main import main

main()
