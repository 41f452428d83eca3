"""envlake: the shared eco-environment data lake of Hangzhou's ecology-and-environment departments.

Layers, each importing only the ones below it (`.importlinter` holds this): kernel <- connectors, modelling
<- quality <- publishing <- catalogue, access, dashboards, loop <- orchestration <- simulators, cli.
"""
