from clipforge_render.main import main

main()
