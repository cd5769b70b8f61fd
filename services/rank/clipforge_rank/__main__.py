from clipforge_rank.main import main

main()
